package checkout

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// A receipt's reference is its payment's id, printed as a QR code on the
// slip (checkout/slip): a refund or a void scans it, or the cashier types
// it into the lookup, to find the payment. What a scanner reads is
// untrusted: any code shown to the till's camera, any keys typed.

// refLen is the length of a payment id: "pay-", 13 hex digits of Unix
// milliseconds, "-", 12 hex digits of randomness (newID).
const refLen = 4 + 13 + 1 + 12

// ParseReference returns the payment id a receipt reference names. It
// takes what a scanner or a keyboard gives, spaces and the scanner's
// line end around it, and letters in either case (a scanner in keyboard
// mode may type them with caps lock on), and refuses anything that is
// not a payment id, wrapping ErrInput.
func ParseReference(s string) (string, error) {
	if len(s) > 4*refLen {
		return "", fmt.Errorf("%w: receipt reference of %d bytes, not a payment's", ErrInput, len(s))
	}
	id := strings.ToLower(strings.TrimSpace(s))
	if len(id) != refLen || !strings.HasPrefix(id, "pay-") || id[17] != '-' || !isHex(id[4:17]) || !isHex(id[18:]) {
		// What was read is not echoed: it may be anything a camera saw.
		return "", fmt.Errorf("%w: not a receipt reference (pay-, 13 hex digits, -, 12 hex digits)", ErrInput)
	}
	return id, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Lookup returns the payment a receipt reference names: ErrInput when it
// is not one, ErrNotFound when no such payment is kept.
func (s *Service) Lookup(ctx context.Context, ref string) (*Payment, error) {
	id, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// DayPayments returns the payments of business day (2006-01-02), or of
// the current business day if day is empty, newest first: the list the
// cashier picks a payment to refund or void from.
func (s *Service) DayPayments(ctx context.Context, day string) ([]Payment, error) {
	if day == "" {
		d, err := s.BusinessDay(ctx)
		if err != nil {
			return nil, err
		}
		day = d
	}
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return nil, fmt.Errorf("%w: day %q: want 2006-01-02", ErrInput, clip(day))
	}
	ps, err := queryPayments(ctx, s.Store.Reader(), `SELECT doc FROM payments WHERE day = ? ORDER BY created DESC, id DESC LIMIT ?`, day, maxDayList)
	if err != nil {
		return nil, fmt.Errorf("checkout: payments of %s: %w", day, err)
	}
	if ps == nil {
		ps = []Payment{}
	}
	return ps, nil
}

// maxDayList bounds the day's list: a busy till's day, not its year.
const maxDayList = 2000
