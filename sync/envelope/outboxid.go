package envelope

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// OutboxID is the random identity of one device store's outbox: its
// records and the platform's acks carry it, and the platform keeps a
// sequence space per (device, outbox). A store deleted and made again, or
// restored from a copy and then rekeyed, gets a new identity, so that its
// numbering starting again cannot pass for records already applied.
//
// The zero OutboxID is the stream of a release-1 store, whose records
// carry no identity; it is written as the empty string and left out of
// the JSON of records and acks.
type OutboxID [16]byte

// NewOutboxID returns a random identity.
func NewOutboxID() (OutboxID, error) {
	var id OutboxID
	if _, err := rand.Read(id[:]); err != nil {
		return OutboxID{}, fmt.Errorf("envelope: outbox id: %w", err)
	}
	if id.IsZero() {
		// 2^-128: but zero means "no identity", so never hand it out.
		id[0] = 1
	}
	return id, nil
}

// IsZero reports whether id is the release-1 stream's (no identity).
func (id OutboxID) IsZero() bool { return id == OutboxID{} }

// String returns id in lower-case hex, or "" for the zero id.
func (id OutboxID) String() string {
	if id.IsZero() {
		return ""
	}
	return hex.EncodeToString(id[:])
}

// MarshalText writes id as String does.
func (id OutboxID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText reads 32 hex digits, or "" for the zero id. Upper-case
// digits are refused, so that one identity has one spelling.
func (id *OutboxID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = OutboxID{}
		return nil
	}
	if len(b) != 2*len(id) {
		return fmt.Errorf("outbox id: want %d hex digits, got %d", 2*len(id), len(b))
	}
	var out OutboxID
	for i := range out {
		hi, ok1 := lowerHex(b[2*i])
		lo, ok2 := lowerHex(b[2*i+1])
		if !ok1 || !ok2 {
			return fmt.Errorf("outbox id: not lower-case hex")
		}
		out[i] = hi<<4 | lo
	}
	if out.IsZero() {
		// The zero id has one spelling, "", so that the platform never
		// keeps two streams for it.
		return fmt.Errorf("outbox id: zero is written as \"\"")
	}
	*id = out
	return nil
}

// ParseOutboxID reads an id as UnmarshalText does.
func ParseOutboxID(s string) (OutboxID, error) {
	var id OutboxID
	err := id.UnmarshalText([]byte(s))
	return id, err
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
