package envelope

import (
	"fmt"
	"unicode/utf8"
)

// CommandSkipRejected is the name of the command that lets a device move
// past a record the platform rejected (RejectChain): the device sets the
// record aside in its skipped table with an audit entry, and the platform,
// which recorded the skip when it sent the command, advances the outbox's
// sequence over it. docs/protocol.md, "Rejected records".
const CommandSkipRejected = "skip_rejected"

// SkipRejected is the args of a skip_rejected command.
type SkipRejected struct {
	// Outbox and Seq name the rejected record.
	Outbox OutboxID `json:"outbox,omitzero"`
	Seq    uint64   `json:"seq"`
	// Reason is the operator's, kept in both audit trails.
	Reason string `json:"reason"`
}

// DecodeSkipRejected parses and checks skip_rejected args.
func DecodeSkipRejected(args []byte) (*SkipRejected, error) {
	var s SkipRejected
	if err := decodeStrict(args, &s); err != nil {
		return nil, fmt.Errorf("envelope: skip_rejected: %w", err)
	}
	switch {
	case s.Seq == 0:
		return nil, fmt.Errorf("envelope: skip_rejected: seq must be 1 or more")
	case s.Reason == "" || len(s.Reason) > MaxReason || !utf8.ValidString(s.Reason):
		return nil, fmt.Errorf("envelope: skip_rejected: reason must be text of 1 to %d bytes", MaxReason)
	}
	return &s, nil
}
