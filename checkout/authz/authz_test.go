package authz

import (
	"encoding/json"
	"testing"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/sync/envelope"
)

func auth(amount int64, code string) *envelope.Record {
	b, _ := json.Marshal(checkout.AuthBody{ID: "pay-1", Amount: amount, Currency: "CNY", Code: code})
	return &envelope.Record{Type: checkout.RecordPaymentAuth, Key: "pay-1", Body: b}
}

func TestDecide(t *testing.T) {
	r := &Rules{MaxAmount: 500000, DeclineCodes: []string{"134567890123456789"}}
	for _, tc := range []struct {
		rec  *envelope.Record
		want string
	}{
		{auth(1234, "134567890123456780"), checkout.StatusApproved},
		{auth(1234, "134567890123456789"), checkout.StatusDeclined},
		{auth(500001, "134567890123456780"), checkout.StatusDeclined},
		{auth(1234, "12345"), checkout.StatusDeclined},
		{&envelope.Record{Type: checkout.RecordPaymentAuth, Body: []byte(`"not an object"`)}, checkout.StatusDeclined},
		{auth(1234, "155567890123456780"), checkout.StatusUserPaying},
		{&envelope.Record{Type: "audit", Body: []byte(`{}`)}, "applied"},
	} {
		if got := r.Decide(tc.rec); got.Status != tc.want {
			t.Errorf("%s %s: %s (%s), want %s", tc.rec.Type, tc.rec.Body, got.Status, got.Reason, tc.want)
		}
	}
}
