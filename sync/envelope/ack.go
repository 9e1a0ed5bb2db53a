package envelope

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Ack is the platform's answer to a device's records: the payload of a
// downward frame on the ack topic, signed by the platform key. Acks come
// from the platform after it has applied the records durably, never from
// the broker.
type Ack struct {
	Tenant string `json:"tenant"`
	Device string `json:"device"`
	// Outbox is the identity of the outbox whose records this ack answers
	// (zero for a release-1 store's). A device ignores an ack for another
	// identity than its store's: it answers a store since replaced.
	Outbox OutboxID `json:"outbox,omitzero"`
	// Upto is cumulative: every record with Seq <= Upto is applied (or was
	// a duplicate of one applied). The device may forget them.
	Upto uint64 `json:"upto"`
	// Last is the hash of the payload the platform holds at Upto (zero
	// from an older platform). A device whose own record Upto differs was
	// restored from a copy that went on numbering: it must not forget its
	// records on this ack, and rekeys instead.
	Last Hash `json:"last,omitzero"`
	// Results carry the outcome of records that have one (authorisations).
	Results []Result `json:"results,omitempty"`
	// Rejects name records the platform refused to apply and why; the
	// device keeps them and raises an alarm, as they need a person.
	Rejects []Reject `json:"rejects,omitempty"`
	// At is the platform's clock, Unix milliseconds.
	At int64 `json:"at"`
}

// Result is the platform's outcome for one applied record.
type Result struct {
	Seq    uint64          `json:"seq"`
	Key    string          `json:"key"`
	Status string          `json:"status"` // "approved", "declined", "applied", ...
	Reason string          `json:"reason,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// Reject says why a record was not applied.
type Reject struct {
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
	// Code says what the device should do: RejectConflict, it rekeys and
	// sends again; anything else (RejectChain, or empty from an older
	// platform), it keeps the record and waits for a person.
	Code string `json:"code,omitempty"`
}

// Reject codes.
const (
	// RejectChain: the record's prev hash does not match the record
	// applied before it. The queue is blocked until a skip_rejected
	// command moves past it.
	RejectChain = "chain"
	// RejectConflict: the platform holds another record under the same
	// outbox identity and number (a store restored from a copy went on
	// numbering). The device gives its waiting records a fresh identity
	// and sends them again (outbox.Store.Rekey).
	RejectConflict = "conflict"
)

// MaxReason bounds a reject's or a skip's reason.
const MaxReason = 512

// MaxResults bounds the results in one ack.
const MaxResults = 10000

// DecodeAck parses and checks an ack payload.
func DecodeAck(payload []byte) (*Ack, error) {
	var a Ack
	if err := decodeStrict(payload, &a); err != nil {
		return nil, fmt.Errorf("envelope: ack: %w", err)
	}
	if !validName(a.Tenant, MaxID) || !validName(a.Device, MaxID) {
		return nil, fmt.Errorf("envelope: ack: bad tenant or device")
	}
	if len(a.Results) > MaxResults || len(a.Rejects) > MaxResults {
		return nil, fmt.Errorf("envelope: ack: too many results")
	}
	for _, r := range a.Results {
		if r.Seq == 0 || r.Seq > a.Upto {
			return nil, fmt.Errorf("envelope: ack: result for seq %d beyond upto %d", r.Seq, a.Upto)
		}
	}
	for _, r := range a.Rejects {
		if r.Seq == 0 || len(r.Reason) > MaxReason || !utf8.ValidString(r.Reason) || (r.Code != "" && !validName(r.Code, MaxType)) {
			return nil, fmt.Errorf("envelope: ack: bad reject for seq %d", r.Seq)
		}
	}
	return &a, nil
}
