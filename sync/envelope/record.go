package envelope

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Record is one thing the appliance tells the platform: a payment to
// authorise, a refund, an activation. It is the payload of an upward frame.
type Record struct {
	// Tenant and Device name the sender; they must match the topic.
	Tenant string `json:"tenant"`
	Device string `json:"device"`
	// Outbox is the identity of the store that numbered the record (zero,
	// and absent from the JSON, for a release-1 store).
	Outbox OutboxID `json:"outbox,omitzero"`
	// Seq numbers the records of one outbox 1, 2, 3, ... without gaps;
	// the platform applies them in this order and de-duplicates by it,
	// per (device, outbox).
	Seq uint64 `json:"seq"`
	// Key is the idempotency key of the business operation; every retry of
	// the same record carries the same key.
	Key string `json:"key"`
	// Type says what Body holds, e.g. "payment.auth".
	Type string `json:"type"`
	// Schema is the version of Body's schema for Type.
	Schema int `json:"schema"`
	// Wall is the wall clock at creation, Unix milliseconds; it may jump.
	Wall int64 `json:"wall"`
	// Boot counts the store's openings and Mono is the monotonic clock in
	// nanoseconds since that opening: together they order and time records
	// when the wall clock cannot be trusted.
	Boot uint32 `json:"boot"`
	Mono int64  `json:"mono"`
	// Prev is the hash of record Seq-1 (zero for Seq 1), so a missing or
	// edited record shows as a break in the chain.
	Prev Hash `json:"prev"`
	// Body is the record's content, as JSON.
	Body json.RawMessage `json:"body"`
}

// Limits on record fields.
const (
	MaxKey  = 128
	MaxType = 64
	MaxID   = 64
)

// DecodeRecord parses and checks a record payload.
func DecodeRecord(payload []byte) (*Record, error) {
	var r Record
	if err := decodeStrict(payload, &r); err != nil {
		return nil, fmt.Errorf("envelope: record: %w", err)
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Check validates the record's fields.
func (r *Record) Check() error {
	switch {
	case !validName(r.Tenant, MaxID):
		return fmt.Errorf("envelope: record: bad tenant %q", clip(r.Tenant))
	case !validName(r.Device, MaxID):
		return fmt.Errorf("envelope: record: bad device %q", clip(r.Device))
	case r.Seq == 0:
		return fmt.Errorf("envelope: record: seq must start at 1")
	case r.Key == "" || len(r.Key) > MaxKey || !utf8.ValidString(r.Key):
		return fmt.Errorf("envelope: record: bad idempotency key")
	case !validName(r.Type, MaxType):
		return fmt.Errorf("envelope: record: bad type %q", clip(r.Type))
	case r.Schema < 1:
		return fmt.Errorf("envelope: record: bad schema %d", r.Schema)
	case len(r.Body) == 0 || !json.Valid(r.Body):
		return fmt.Errorf("envelope: record: body is not JSON")
	}
	return nil
}

// validName accepts topic-safe identifiers: letters, digits, - _ . of at
// most max bytes.
func validName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// MarshalText writes the hash as hex, so JSON shows it readably.
func (h Hash) MarshalText() ([]byte, error) {
	const hexdig = "0123456789abcdef"
	out := make([]byte, 2*len(h))
	for i, b := range h {
		out[2*i], out[2*i+1] = hexdig[b>>4], hexdig[b&15]
	}
	return out, nil
}

// UnmarshalText reads a hex hash.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("hash: want %d hex digits, got %d", 2*len(h), len(b))
	}
	for i := range h {
		hi, ok1 := unhex(b[2*i])
		lo, ok2 := unhex(b[2*i+1])
		if !ok1 || !ok2 {
			return fmt.Errorf("hash: not hex")
		}
		h[i] = hi<<4 | lo
	}
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ValidName reports whether s may be a tenant or device name: 1 to MaxID
// letters, digits, '-', '_' or '.'.
func ValidName(s string) bool { return validName(s, MaxID) }
