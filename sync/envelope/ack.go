package envelope

import (
	"encoding/json"
	"fmt"
)

// Ack is the platform's answer to a device's records: the payload of a
// downward frame on the ack topic, signed by the platform key. Acks come
// from the platform after it has applied the records durably, never from
// the broker.
type Ack struct {
	Tenant string `json:"tenant"`
	Device string `json:"device"`
	// Upto is cumulative: every record with Seq <= Upto is applied (or was
	// a duplicate of one applied). The device may forget them.
	Upto uint64 `json:"upto"`
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
}

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
	return &a, nil
}
