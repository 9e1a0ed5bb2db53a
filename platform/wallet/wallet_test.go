package wallet

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout"
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
		{rec(checkout.RecordPaymentAuth, checkout.AuthBody{ID: "a", Amount: 100, Code: "134567890123456780"}), checkout.StatusApproved},
		{rec(checkout.RecordPaymentAuth, checkout.AuthBody{ID: "b", Amount: 100, Code: "155567890123456780"}), checkout.StatusUserPaying},
		{rec(checkout.RecordPaymentAuth, checkout.AuthBody{ID: "c", Amount: 10001, Code: "134567890123456780"}), checkout.StatusUserPaying},
		{rec(checkout.RecordPaymentAuth, checkout.AuthBody{ID: "d", Amount: 100, Code: "155667890123456780"}), checkout.StatusUserPaying},
		{rec(checkout.RecordPaymentAuth, checkout.AuthBody{ID: "e", Amount: 100000, Code: "155667890123456780", Offline: true}), checkout.StatusApproved},
		{rec(checkout.RecordPaymentQuery, checkout.QueryBody{ID: "b", N: 1}), checkout.StatusUserPaying},
		{rec(checkout.RecordPaymentQuery, checkout.QueryBody{ID: "zz", N: 1}), checkout.StatusDeclined},
		{rec(checkout.RecordPaymentRefund, checkout.RefundBody{ID: "a", N: "1", Amount: 60, Paid: 100}), checkout.ResultRefunded},
		{rec(checkout.RecordPaymentRefund, checkout.RefundBody{ID: "a", N: "2", Amount: 41, Paid: 100, Before: 60}), checkout.StatusDeclined},
		{rec(checkout.RecordPaymentRefund, checkout.RefundBody{ID: "a", N: "3", Amount: 40, Paid: 100, Before: 60}), checkout.ResultRefunded},
		{rec(checkout.RecordPaymentVoid, checkout.VoidBody{ID: "a"}), checkout.StatusDeclined}, // refunded already
		{rec(checkout.RecordPaymentRefund, checkout.RefundBody{ID: "unknown", N: "1", Amount: 60, Paid: 100, Before: 50}), checkout.StatusDeclined},
		{rec(checkout.RecordPaymentRefund, checkout.RefundBody{ID: "unknown", N: "1", Amount: -1, Paid: 100}), checkout.StatusDeclined},
		{rec(checkout.RecordPaymentAuth, "junk"), checkout.StatusDeclined},
		{rec("day.close", map[string]int{}), "applied"},
	}
	for i, s := range steps {
		if got := w.Decide(s.rec); got.Status != s.want {
			t.Fatalf("step %d (%s %s): %s (%s), want %s", i, s.rec.Type, s.rec.Body, got.Status, got.Reason, s.want)
		}
	}
	now = now.Add(3 * time.Second)
	for id, want := range map[string]string{"b": checkout.StatusApproved, "c": checkout.StatusApproved, "d": checkout.StatusUserPaying} {
		if got := w.Decide(rec(checkout.RecordPaymentQuery, checkout.QueryBody{ID: id, N: 2})); got.Status != want {
			t.Errorf("query %s after confirmation time: %s, want %s", id, got.Status, want)
		}
	}
	// Reverse: the abandoned one closes, the paid one refuses (the device refunds it).
	if got := w.Decide(rec(checkout.RecordPaymentReverse, checkout.ReverseBody{ID: "d"})); got.Status != checkout.ResultReversed {
		t.Errorf("reverse of unpaid: %s", got.Status)
	}
	if got := w.Decide(rec(checkout.RecordPaymentQuery, checkout.QueryBody{ID: "d", N: 3})); got.Status != checkout.StatusDeclined {
		t.Errorf("query after reverse: %s", got.Status)
	}
	if got := w.Decide(rec(checkout.RecordPaymentReverse, checkout.ReverseBody{ID: "b"})); got.Status != checkout.StatusDeclined {
		t.Errorf("reverse of paid: %s", got.Status)
	}
	// Another device's order of the same id is not this one.
	other := rec(checkout.RecordPaymentQuery, checkout.QueryBody{ID: "b"})
	other.Device = "d2"
	if got := w.Decide(other); got.Status != checkout.StatusDeclined {
		t.Errorf("query from another device: %s", got.Status)
	}
}

// mapStore is an OrderStore that can be made to fail.
type mapStore struct {
	m    map[string][]byte
	fail error
}

func (s *mapStore) Get(key string) ([]byte, bool, error) {
	v, ok := s.m[key]
	return v, ok, s.fail
}

func (s *mapStore) Put(key string, value []byte) error {
	if s.fail != nil {
		return s.fail
	}
	s.m[key] = value
	return nil
}

func TestSimWalletOrdersInTheStore(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	rec := func(typ string, body any) *envelope.Record {
		b, _ := json.Marshal(body)
		return &envelope.Record{Tenant: "t", Device: "d", Type: typ, Body: b}
	}
	st := &mapStore{m: map[string][]byte{}}
	decide := func(w *SimWallet, r *envelope.Record, want string) {
		t.Helper()
		got, err := w.DecideIn(st, r)
		if err != nil || got.Status != want {
			t.Fatalf("%s %s: %s (%s) %v, want %s", r.Type, r.Body, got.Status, got.Reason, err, want)
		}
	}
	w := &SimWallet{ConfirmPrefixes: []string{"1555"}, ConfirmAfter: 3 * time.Second, Now: clock}
	decide(w, rec(checkout.RecordPaymentAuth, checkout.AuthBody{ID: "a", Amount: 100, Code: "134567890123456780"}), checkout.StatusApproved)
	decide(w, rec(checkout.RecordPaymentAuth, checkout.AuthBody{ID: "b", Amount: 100, Code: "155567890123456780"}), checkout.StatusUserPaying)
	decide(w, rec(checkout.RecordPaymentRefund, checkout.RefundBody{ID: "a", N: "1", Amount: 60, Paid: 100}), checkout.ResultRefunded)
	for k, v := range st.m {
		if len(v) > 64 {
			t.Errorf("order %s takes %d bytes: %s", k, len(v), v)
		}
	}

	// Another wallet on the same store, as after a restart: the orders
	// and the time of confirmation are the store's.
	w = &SimWallet{ConfirmPrefixes: []string{"1555"}, ConfirmAfter: 3 * time.Second, Now: clock}
	decide(w, rec(checkout.RecordPaymentRefund, checkout.RefundBody{ID: "a", N: "2", Amount: 41, Paid: 100}), checkout.StatusDeclined)
	decide(w, rec(checkout.RecordPaymentQuery, checkout.QueryBody{ID: "b", N: 1}), checkout.StatusUserPaying)
	now = now.Add(3 * time.Second)
	decide(w, rec(checkout.RecordPaymentQuery, checkout.QueryBody{ID: "b", N: 2}), checkout.StatusApproved)

	// A failing store fails the decision rather than answering without
	// the order.
	st.fail = errors.New("disk gone")
	if got, err := w.DecideIn(st, rec(checkout.RecordPaymentQuery, checkout.QueryBody{ID: "b", N: 3})); !errors.Is(err, st.fail) {
		t.Fatalf("with a failing store: %+v, %v", got, err)
	}
}

func TestSimWalletMemoryIsBounded(t *testing.T) {
	s := &memOrders{m: map[string][]byte{}}
	s.Put("waiting", []byte(`{"a":1,"s":"paying"}`))
	for i := 0; len(s.m) < maxSimOrders; i++ {
		s.Put(fmt.Sprint("paid-", i), []byte(`{"a":1,"s":"paid"}`))
	}
	s.Put("one more", []byte(`{"a":1,"s":"paid"}`))
	if len(s.m) > maxSimOrders*9/10 {
		t.Fatalf("%d orders after making room, want at most %d", len(s.m), maxSimOrders*9/10)
	}
	if _, ok, _ := s.Get("waiting"); !ok {
		t.Fatal("an order waiting for the customer was forgotten")
	}
	if _, ok, _ := s.Get("one more"); !ok {
		t.Fatal("the new order was not kept")
	}
}

func TestSimWalletCodeSingleUseAndExpiry(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	w := &SimWallet{CodeTTL: DefaultCodeTTL, OfflineWindow: time.Hour, SingleUse: true, ConfirmPrefixes: []string{},
		AbandonPrefixes: []string{}, Now: func() time.Time { return now }}
	ms := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	auth := func(b checkout.AuthBody) *envelope.Record {
		raw, _ := json.Marshal(b)
		return &envelope.Record{Tenant: "t", Device: "d", Type: checkout.RecordPaymentAuth, Body: raw}
	}
	cases := []struct {
		name      string
		body      checkout.AuthBody
		want, why string
	}{
		{"fresh", checkout.AuthBody{ID: "a", Amount: 100, Code: "134567890123456780", At: ms(2 * time.Second)}, checkout.StatusApproved, ""},
		{"same payment again", checkout.AuthBody{ID: "a", Amount: 100, Code: "134567890123456780", At: ms(2 * time.Second)}, checkout.StatusApproved, ""},
		{"code reused", checkout.AuthBody{ID: "b", Amount: 100, Code: "134567890123456780", At: ms(time.Second)}, checkout.StatusDeclined, "code already used"},
		{"reused on another device too", checkout.AuthBody{ID: "a2", Amount: 100, Code: "134567890123456780"}, checkout.StatusDeclined, "code already used"},
		{"at the limit", checkout.AuthBody{ID: "c", Amount: 100, Code: "134567890123456781", At: ms(time.Minute)}, checkout.StatusApproved, ""},
		{"late online", checkout.AuthBody{ID: "d", Amount: 100, Code: "134567890123456782", At: ms(61 * time.Second)}, checkout.StatusDeclined, "expired"},
		{"late offline, in the window", checkout.AuthBody{ID: "e", Amount: 100, Code: "134567890123456783", At: ms(59 * time.Minute), Offline: true}, checkout.StatusApproved, ""},
		{"late offline, past the window", checkout.AuthBody{ID: "f", Amount: 100, Code: "134567890123456784", At: ms(61 * time.Minute), Offline: true}, checkout.StatusDeclined, "expired"},
		{"scanned in the future", checkout.AuthBody{ID: "g", Amount: 100, Code: "134567890123456785", At: now.Add(time.Hour).UnixMilli()}, checkout.StatusApproved, ""},
		{"no scan time", checkout.AuthBody{ID: "h", Amount: 100, Code: "134567890123456786"}, checkout.StatusApproved, ""},
	}
	for _, c := range cases {
		rec := auth(c.body)
		if c.name == "reused on another device too" {
			rec.Device = "d2"
		}
		if r := w.Decide(rec); r.Status != c.want || r.Reason != c.why {
			t.Errorf("%s: %+v, want %s %q", c.name, r, c.want, c.why)
		}
	}
	// The zero value keeps codes forever and reusable: the callers that
	// replay the same test code.
	z := &SimWallet{ConfirmPrefixes: []string{}, AbandonPrefixes: []string{}}
	for _, id := range []string{"x", "y"} {
		if r := z.Decide(auth(checkout.AuthBody{ID: id, Amount: 1, Code: "134567890123456780", At: 1})); r.Status != checkout.StatusApproved {
			t.Fatalf("zero wallet: %+v", r)
		}
	}
}
