package checkout

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/guichet/guichet/sync/envelope"
)

func TestSimWallet(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	w := &SimWallet{ConfirmPrefixes: []string{"1555"}, AbandonPrefixes: []string{"1556"}, ConfirmAbove: 10000,
		ConfirmAfter: 3 * time.Second, Now: func() time.Time { return now }}
	rec := func(typ string, body any) *envelope.Record {
		b, _ := json.Marshal(body)
		return &envelope.Record{Tenant: "t", Device: "d", Type: typ, Body: b}
	}
	steps := []struct {
		rec  *envelope.Record
		want string
	}{
		{rec(RecordPaymentAuth, AuthBody{ID: "a", Amount: 100, Code: "134567890123456780"}), StatusApproved},
		{rec(RecordPaymentAuth, AuthBody{ID: "b", Amount: 100, Code: "155567890123456780"}), StatusUserPaying},
		{rec(RecordPaymentAuth, AuthBody{ID: "c", Amount: 10001, Code: "134567890123456780"}), StatusUserPaying},
		{rec(RecordPaymentAuth, AuthBody{ID: "d", Amount: 100, Code: "155667890123456780"}), StatusUserPaying},
		{rec(RecordPaymentAuth, AuthBody{ID: "e", Amount: 100000, Code: "155667890123456780", Offline: true}), StatusApproved},
		{rec(RecordPaymentQuery, QueryBody{ID: "b", N: 1}), StatusUserPaying},
		{rec(RecordPaymentQuery, QueryBody{ID: "zz", N: 1}), StatusDeclined},
		{rec(RecordPaymentRefund, RefundBody{ID: "a", N: "1", Amount: 60, Paid: 100}), ResultRefunded},
		{rec(RecordPaymentRefund, RefundBody{ID: "a", N: "2", Amount: 41, Paid: 100, Before: 60}), StatusDeclined},
		{rec(RecordPaymentRefund, RefundBody{ID: "a", N: "3", Amount: 40, Paid: 100, Before: 60}), ResultRefunded},
		{rec(RecordPaymentVoid, VoidBody{ID: "a"}), StatusDeclined}, // refunded already
		{rec(RecordPaymentRefund, RefundBody{ID: "unknown", N: "1", Amount: 60, Paid: 100, Before: 50}), StatusDeclined},
		{rec(RecordPaymentRefund, RefundBody{ID: "unknown", N: "1", Amount: -1, Paid: 100}), StatusDeclined},
		{rec(RecordPaymentAuth, "junk"), StatusDeclined},
		{rec("day.close", map[string]int{}), "applied"},
	}
	for i, s := range steps {
		if got := w.Decide(s.rec); got.Status != s.want {
			t.Fatalf("step %d (%s %s): %s (%s), want %s", i, s.rec.Type, s.rec.Body, got.Status, got.Reason, s.want)
		}
	}
	now = now.Add(3 * time.Second)
	for id, want := range map[string]string{"b": StatusApproved, "c": StatusApproved, "d": StatusUserPaying} {
		if got := w.Decide(rec(RecordPaymentQuery, QueryBody{ID: id, N: 2})); got.Status != want {
			t.Errorf("query %s after confirmation time: %s, want %s", id, got.Status, want)
		}
	}
	// Reverse: the abandoned one closes, the paid one refuses (the device refunds it).
	if got := w.Decide(rec(RecordPaymentReverse, ReverseBody{ID: "d"})); got.Status != ResultReversed {
		t.Errorf("reverse of unpaid: %s", got.Status)
	}
	if got := w.Decide(rec(RecordPaymentQuery, QueryBody{ID: "d", N: 3})); got.Status != StatusDeclined {
		t.Errorf("query after reverse: %s", got.Status)
	}
	if got := w.Decide(rec(RecordPaymentReverse, ReverseBody{ID: "b"})); got.Status != StatusDeclined {
		t.Errorf("reverse of paid: %s", got.Status)
	}
	// Another device's order of the same id is not this one.
	other := rec(RecordPaymentQuery, QueryBody{ID: "b"})
	other.Device = "d2"
	if got := w.Decide(other); got.Status != StatusDeclined {
		t.Errorf("query from another device: %s", got.Status)
	}
}
