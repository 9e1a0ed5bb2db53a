package icao

import (
	"context"
	"errors"
	"fmt"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/bac"
	"github.com/guichet/guichet/eid/icao/pace"
)

// ErrWrongCAN is returned when the chip refuses PACE with the card access
// number and there is no MRZ data to try BAC with. It also matches
// ErrAccessDenied, so that callers that only ask whether the access data
// was wrong need not know PACE.
var ErrWrongCAN = errors.New("icao: the chip refused the card access number (wrong CAN?)")

// ErrNeedMRZ is returned for a chip without PACE read with a CAN alone:
// only the MRZ data opens it, with BAC.
var ErrNeedMRZ = errors.New("icao: the chip does not offer PACE, so the CAN cannot open it: the MRZ data (document number, birth and expiry dates) is needed for BAC")

// denied is the chip's refusal of PACE's password, with the PACE error
// behind it. It matches ErrAccessDenied, and ErrWrongCAN for the CAN.
type denied struct {
	ref byte
	err error
}

func (e *denied) Error() string {
	if e.ref == pace.RefCAN {
		return ErrWrongCAN.Error()
	}
	return "icao: the chip refused the MRZ data in PACE (wrong MRZ data?)"
}

func (e *denied) Unwrap() error { return e.err }

func (e *denied) Is(target error) bool {
	return target == ErrAccessDenied || target == ErrWrongCAN && e.ref == pace.RefCAN
}

// ReadCard reads the chip behind t with the access data a: the MRZ data,
// the card access number, or both. It runs PACE when the chip offers it
// and falls back to BAC as the package documentation says.
func ReadCard(ctx context.Context, t apdu.Transmitter, a cardreader.Access, opts Options) (*Document, error) {
	d, err := readCard(ctx, t, a, opts)
	if err != nil && isProtocol(err) {
		return nil, badAnswer(err)
	}
	return d, err
}

// CheckAccess reports whether a can open a chip: valid MRZ data, a card
// access number of digits, or both. Drivers call it before waiting for a
// card, so that a typing error is told at once.
func CheckAccess(a cardreader.Access) error {
	_, _, err := passwords(a)
	return err
}

// passwords derives from a the BAC keys (nil without MRZ data) and the
// password PACE is to use: the CAN when there is one.
func passwords(a cardreader.Access) (*bac.Keys, pace.Password, error) {
	var keys *bac.Keys
	var pw pace.Password
	if a.DocumentNumber != "" || a.BirthDate != "" || a.ExpiryDate != "" {
		k, err := bac.KeysFromMRZ(a.DocumentNumber, a.BirthDate, a.ExpiryDate)
		if err != nil {
			return nil, pw, fmt.Errorf("icao: MRZ data: %w", err)
		}
		if pw, err = pace.MRZPassword(a.DocumentNumber, a.BirthDate, a.ExpiryDate); err != nil {
			return nil, pw, fmt.Errorf("icao: MRZ data: %w", err)
		}
		keys = &k
	}
	if a.CAN != "" {
		var err error
		if pw, err = pace.CANPassword(a.CAN); err != nil {
			return nil, pw, fmt.Errorf("icao: %w", err)
		}
	}
	if keys == nil && a.CAN == "" {
		return nil, pw, errors.New("icao: the MRZ data (document number, birth and expiry dates) or the card access number is needed to open the chip")
	}
	return keys, pw, nil
}

func readCard(ctx context.Context, t apdu.Transmitter, a cardreader.Access, opts Options) (*Document, error) {
	keys, pw, err := passwords(a)
	if err != nil {
		return nil, err
	}
	plain := &channel{t: t}
	infos, offered, err := readCardAccess(ctx, plain)
	var paceErr error
	switch {
	case err != nil && !fallsBack(err):
		return nil, err
	case err != nil:
		paceErr = err
	case offered:
		info, err := pace.Choose(infos)
		if err != nil {
			paceErr = fmt.Errorf("icao: EF.CardAccess: %w", err)
			break
		}
		s, err := pace.Authenticate(ctx, t, info, pw, opts.Rand)
		if err == nil {
			c := &channel{t: t, s: s}
			if err := selectApplication(ctx, c); err != nil {
				return nil, err
			}
			return readDocument(ctx, c, &Document{Access: info.String() + " with the " + pw.Kind()}, opts)
		}
		if !fallsBack(err) {
			return nil, err
		}
		paceErr = fmt.Errorf("icao: PACE with the %s: %w", pw.Kind(), err)
		if errors.Is(err, pace.ErrAccessDenied) {
			paceErr = &denied{ref: pw.Ref, err: err}
		}
	}
	if keys == nil {
		if paceErr != nil {
			return nil, paceErr
		}
		return nil, ErrNeedMRZ
	}

	d, err := read(ctx, t, *keys, opts)
	if err != nil {
		// A chip that refuses BAC's commands outright (one that offers
		// PACE alone) makes PACE's failure the news; otherwise BAC's
		// error says what went wrong, a refusal of the same MRZ data
		// included.
		var se *apdu.StatusError
		if paceErr != nil && errors.As(err, &se) {
			return nil, fmt.Errorf("%w (then BAC: %v)", paceErr, err)
		}
		return nil, err
	}
	d.PACEFailed = paceErr
	return d, nil
}

// fallsBack reports whether a failure of PACE leaves BAC worth trying:
// anything the chip answered, not a cancelled context or a transport
// that broke (the card left the field).
func fallsBack(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *apdu.StatusError
	return errors.As(err, &se) || isProtocol(err) || errors.Is(err, ErrBadAnswer) || errors.Is(err, pace.ErrAccessDenied) || errors.Is(err, pace.ErrUnsupported) || errors.Is(err, pace.ErrBadPoint)
}

// readCardAccess reads EF.CardAccess from the master file in plain (Doc
// 9303 Part 11 4.2). offered is false when the chip has no such file or
// no PACEInfo in it; a file that does not parse is an error, which PACE's
// fallback covers.
func readCardAccess(ctx context.Context, c *channel) (infos []pace.Info, offered bool, err error) {
	b, err := c.readFile(ctx, pace.FileCardAccess, "EF.CardAccess")
	var se *apdu.StatusError
	if errors.As(err, &se) {
		// A chip without the file answers 6A82, or whatever its
		// implementation of SELECT says to an unknown file.
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if infos, err = pace.ParseCardAccess(b); err != nil {
		return nil, false, fmt.Errorf("icao: %w", err)
	}
	// A file with other SecurityInfos alone offers no PACE.
	return infos, len(infos) > 0, nil
}
