package wallet

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/sync/envelope"
)

// TestSimWalletQROrders plays the platform's side of the shop's QR
// orders: known, paid when told, refused once cancelled or expired, and
// the device's close answered with what the wallet did.
func TestSimWalletQROrders(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	w := &SimWallet{Now: func() time.Time { return now }}
	st := &memOrders{m: map[string][]byte{}}
	rec := func(dev, typ string, body any) *envelope.Record {
		b, _ := json.Marshal(body)
		if s, ok := body.(string); ok {
			b = []byte(s)
		}
		return &envelope.Record{Tenant: "t", Device: dev, Type: typ, Body: b}
	}
	order := func(ref string, amount int64, ttl time.Duration) checkout.QROrderBody {
		return checkout.QROrderBody{Ref: ref, Amount: amount, Currency: "CNY", Expires: now.Add(ttl).UnixMilli()}
	}
	steps := []struct {
		rec          *envelope.Record
		want, reason string
	}{
		{rec("d", checkout.RecordQROrder, order("Qa", 100, time.Minute)), checkout.ResultQROpen, ""},
		{rec("d", checkout.RecordQROrder, order("Qb", 200, time.Minute)), checkout.ResultQROpen, ""},
		{rec("d", checkout.RecordQROrder, order("Qc", 300, time.Minute)), checkout.ResultQROpen, ""},
		{rec("d", checkout.RecordQROrder, order("Qd", 400, time.Second)), checkout.ResultQROpen, ""},
		// Another till cannot take over a reference, nor close it.
		{rec("other", checkout.RecordQROrder, order("Qa", 1, time.Minute)), checkout.StatusDeclined, "reference in use"},
		{rec("other", checkout.RecordQRCancel, checkout.QRCloseBody{Ref: "Qa"}), checkout.StatusDeclined, "reference in use"},
		// Hostile bodies are declined, never an error that fails the batch.
		{rec("d", checkout.RecordQROrder, `{"ref":"../../x","amount":1,"currency":"CNY","expires":1}`), checkout.StatusDeclined, "unreadable QR order"},
		{rec("d", checkout.RecordQROrder, `junk`), checkout.StatusDeclined, "unreadable QR order"},
		{rec("d", checkout.RecordQRCancel, `{"ref":""}`), checkout.StatusDeclined, "unreadable QR close"},
		// The same order again (a renumbered outbox): its state.
		{rec("d", checkout.RecordQROrder, order("Qa", 100, time.Minute)), checkout.ResultQROpen, ""},
		// Cancelled before any payment.
		{rec("d", checkout.RecordQRCancel, checkout.QRCloseBody{Ref: "Qb"}), checkout.ResultQRCancelled, ""},
		// Never heard of: nothing can have been paid.
		{rec("d", checkout.RecordQRExpire, checkout.QRCloseBody{Ref: "Qzz"}), checkout.ResultQRExpired, ""},
	}
	for i, s := range steps {
		res, err := w.DecideIn(st, s.rec)
		if err != nil || res.Status != s.want || res.Reason != s.reason {
			t.Fatalf("step %d (%s %s): %+v %v, want %s %q", i, s.rec.Type, s.rec.Body, res, err, s.want, s.reason)
		}
	}
	p, err := w.PayQR(st, "Qa")
	if err != nil || p.Again || p.Tenant != "t" || p.Device != "d" || p.Args.Amount != 100 || p.Args.Currency != "CNY" || p.Args.At != now.UnixMilli() {
		t.Fatalf("pay Qa: %+v %v", p, err)
	}
	if _, err := checkout.ParseQRPaid(mustJSON(p.Args)); err != nil {
		t.Fatalf("the notice's args do not parse on the device: %v", err)
	}
	if p, err := w.PayQR(st, "Qa"); err != nil || !p.Again {
		t.Fatalf("pay Qa again: %+v %v", p, err)
	}
	// The device's cancel or expiry of a paid order is answered paid.
	for _, typ := range []string{checkout.RecordQRCancel, checkout.RecordQRExpire} {
		if res, _ := w.DecideIn(st, rec("d", typ, checkout.QRCloseBody{Ref: "Qa"})); res.Status != checkout.ResultQRPaid {
			t.Fatalf("%s of a paid order: %+v", typ, res)
		}
	}
	if _, err := w.PayQR(st, "Qb"); !errors.Is(err, ErrQRClosed) {
		t.Fatalf("pay after cancel: %v", err)
	}
	if _, err := w.PayQR(st, "Qzz"); !errors.Is(err, ErrQRUnknown) {
		t.Fatalf("pay of an unknown order: %v", err)
	}
	// Expired by its time, even before the device says so.
	now = now.Add(time.Second)
	if _, err := w.PayQR(st, "Qd"); !errors.Is(err, ErrQRExpired) {
		t.Fatalf("pay after the expiry: %v", err)
	}
	if res, _ := w.DecideIn(st, rec("d", checkout.RecordQRExpire, checkout.QRCloseBody{Ref: "Qc"})); res.Status != checkout.ResultQRExpired {
		t.Fatalf("expire of Qc: %+v", res)
	}
	if _, err := w.PayQR(st, "Qc"); !errors.Is(err, ErrQRExpired) {
		t.Fatalf("pay after the device's expiry: %v", err)
	}
	// Decide's memory serves PayQR too.
	m := &SimWallet{Now: w.Now}
	if res := m.Decide(rec("d", checkout.RecordQROrder, order("Qm", 5, time.Minute))); res.Status != checkout.ResultQROpen {
		t.Fatalf("in memory: %+v", res)
	}
	if p, err := m.PayQR(nil, "Qm"); err != nil || p.Args.Amount != 5 {
		t.Fatalf("pay in memory: %+v %v", p, err)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
