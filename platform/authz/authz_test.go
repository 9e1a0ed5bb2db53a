package authz

import (
	"encoding/json"
	"testing"
	"time"

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
		// Cash never reaches a wallet: the records are applied as they are.
		{&envelope.Record{Type: checkout.RecordPaymentCash, Key: "pay-1", Body: []byte(`{"id":"pay-1","amount":1250,"currency":"CNY"}`)}, "applied"},
		{&envelope.Record{Type: checkout.RecordPaymentCashRefund, Key: "pay-1:refund:1", Body: []byte(`{"id":"pay-1","n":"1","amount":250}`)}, "applied"},
		{&envelope.Record{Type: checkout.RecordPaymentCashVoid, Key: "pay-1:void", Body: []byte(`{"id":"pay-1"}`)}, "applied"},
	} {
		if got := r.Decide(tc.rec); got.Status != tc.want {
			t.Errorf("%s %s: %s (%s), want %s", tc.rec.Type, tc.rec.Body, got.Status, got.Reason, tc.want)
		}
	}
}

func query(id string) *envelope.Record {
	b, _ := json.Marshal(checkout.QueryBody{ID: id, N: 1})
	return &envelope.Record{Type: checkout.RecordPaymentQuery, Key: id + ":query:1", Body: b}
}

func TestConfiguredCustomer(t *testing.T) {
	authID := func(id string, amount int64, code string) *envelope.Record {
		b, _ := json.Marshal(checkout.AuthBody{ID: id, Amount: amount, Currency: "CNY", Code: code})
		return &envelope.Record{Type: checkout.RecordPaymentAuth, Key: id, Body: b}
	}
	// Another customer: 1345 confirms, 1555 pays at once, no amount asks
	// for confirmation, nobody walks away.
	r := &Rules{ConfirmPrefixes: []string{"1345"}, AbandonPrefixes: []string{}, ConfirmAbove: checkout.MaxAmount, ConfirmAfter: time.Hour}
	for _, tc := range []struct {
		rec  *envelope.Record
		want string
	}{
		{authID("a", 1234, "134567890123456780"), checkout.StatusUserPaying},
		{authID("b", 1234, "155567890123456780"), checkout.StatusApproved},
		{authID("c", 1234, "155667890123456780"), checkout.StatusApproved},
		{authID("d", 200000, "144567890123456780"), checkout.StatusApproved},
		{query("a"), checkout.StatusUserPaying}, // an hour to go
	} {
		if got := r.Decide(tc.rec); got.Status != tc.want {
			t.Errorf("%s %s: %s (%s), want %s", tc.rec.Type, tc.rec.Body, got.Status, got.Reason, tc.want)
		}
	}

	// The zero value is today's customer: 1556 never confirms, above
	// 1000.00 asks, 1555 confirms after 3 s.
	var z Rules
	for _, tc := range []struct {
		rec  *envelope.Record
		want string
	}{
		{authID("a", 1234, "155667890123456780"), checkout.StatusUserPaying},
		{authID("b", 100001, "134567890123456780"), checkout.StatusUserPaying},
		{authID("c", 100000, "134567890123456780"), checkout.StatusApproved},
		{query("a"), checkout.StatusUserPaying},
	} {
		if got := z.Decide(tc.rec); got.Status != tc.want {
			t.Errorf("zero Rules: %s %s: %s (%s), want %s", tc.rec.Type, tc.rec.Body, got.Status, got.Reason, tc.want)
		}
	}

	// A short confirmation delay is honoured.
	fast := &Rules{ConfirmAfter: time.Millisecond}
	if got := fast.Decide(authID("f", 1234, "155567890123456780")); got.Status != checkout.StatusUserPaying {
		t.Fatalf("fast auth: %s", got.Status)
	}
	time.Sleep(5 * time.Millisecond)
	if got := fast.Decide(query("f")); got.Status != checkout.StatusApproved {
		t.Errorf("query after confirm_after: %s (%s)", got.Status, got.Reason)
	}
}
