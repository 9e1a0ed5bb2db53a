package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout/emv"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

var testMerchant = Merchant{Name: "GUICHET TEST", City: "NANNING", MCC: "5411", Country: "CN", AccountGUI: "com.example.guichet", AccountID: "M1"}

// newQRService is a clocked Service whose QR changes are collected.
func newQRService(t *testing.T) (*Service, *outbox.Store, *clock, func() []string) {
	s, ob, c := newClocked(t)
	s.QRMerchant, s.QRTTL = testMerchant, time.Minute
	var mu sync.Mutex
	var seen []string
	s.OnQRChange = func(o QROrder) { mu.Lock(); seen = append(seen, o.Status); mu.Unlock() }
	return s, ob, c, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

func mustQR(t *testing.T, s *Service, ref string) *QROrder {
	t.Helper()
	o, err := s.GetQR(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func paidCmd(o *QROrder, at time.Time) *envelope.Command {
	b, _ := json.Marshal(QRPaidArgs{Ref: o.Ref, Amount: o.Amount, Currency: o.Currency, At: at.UnixMilli()})
	return &envelope.Command{Tenant: "t", Device: "d", ID: "cmd-1", Name: CommandQRPaid, Args: b, Version: 1, Expires: at.Add(time.Hour).UnixMilli()}
}

// TestQROrderStoredSentPaid follows an order from the cashier's click to
// the platform's notification, and into the day report.
func TestQROrderStoredSentPaid(t *testing.T) {
	s, ob, c, seen := newQRService(t)
	ctx := context.Background()
	o, err := s.StartQR(ctx, 1234)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != QROpen || !validRef(o.Ref) || !o.Expires.Equal(c.Now().Add(time.Minute)) {
		t.Fatalf("new order %+v", o)
	}
	p, err := emv.Parse(o.Payload)
	if err != nil || p.Amount != "12.34" || p.Additional == nil || p.Additional.ReferenceLabel != o.Ref {
		t.Fatalf("payload %q: %+v %v", o.Payload, p, err)
	}
	// Stored and sent in one commit, keyed by the reference.
	rec := pending(t, ob)[o.Ref]
	if rec == nil || rec.Type != RecordQROrder {
		t.Fatalf("no qr.order record under %s: %v", o.Ref, keys(pending(t, ob)))
	}
	body, err := ParseQROrderBody(rec.Body)
	if err != nil || body.Amount != 1234 || body.Currency != "CNY" || body.Expires != o.Expires.UnixMilli() {
		t.Fatalf("qr.order body %s: %+v %v", rec.Body, body, err)
	}
	s.OnQRResult(envelope.Result{Seq: rec.Seq, Key: o.Ref, Status: ResultQROpen})
	if got := mustQR(t, s, o.Ref).Status; got != QRSent {
		t.Fatalf("after the platform's open: %s", got)
	}
	c.Add(10 * time.Second)
	if err := s.ApplyCommand(ctx, paidCmd(o, c.Now())); err != nil {
		t.Fatal(err)
	}
	got := mustQR(t, s, o.Ref)
	if got.Status != QRPaid || !got.Closed || !got.PaidAt.Equal(c.Now().Truncate(time.Millisecond)) {
		t.Fatalf("after qr_paid: %+v", got)
	}
	// Told again (a retry of the platform): nothing changes.
	if err := s.ApplyCommand(ctx, paidCmd(o, c.Now())); err != nil {
		t.Fatalf("qr_paid again: %v", err)
	}
	// A paid order expires no more.
	c.Add(time.Hour)
	s.Drive(ctx)
	if got := mustQR(t, s, o.Ref).Status; got != QRPaid {
		t.Fatalf("paid order after its expiry: %s", got)
	}
	if w := []string{QROpen, QRSent, QRPaid}; strings.Join(seen(), ",") != strings.Join(w, ",") {
		t.Fatalf("changes told %v, want %v", seen(), w)
	}
	r, err := s.Report(ctx, o.Day)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sales != 1234 || r.Count != 1 || r.QR == nil || r.QR.PaidCount != 1 || len(r.Schemes) != 1 || r.Schemes[0].Scheme != SchemeMerchantQR {
		t.Fatalf("report %+v qr %+v", r, r.QR)
	}
}

// TestQROrderExpires: an order nobody pays expires at its expiry, the
// platform is told, and a payment notified after the platform agreed is
// refused.
func TestQROrderExpires(t *testing.T) {
	s, ob, c, _ := newQRService(t)
	ctx := context.Background()
	o, _ := s.StartQR(ctx, 500)
	c.Add(59 * time.Second)
	s.Drive(ctx)
	if got := mustQR(t, s, o.Ref).Status; got != QROpen {
		t.Fatalf("before its expiry: %s", got)
	}
	c.Add(time.Second)
	s.Drive(ctx)
	if got := mustQR(t, s, o.Ref).Status; got != QRExpired {
		t.Fatalf("at its expiry: %s", got)
	}
	rec := pending(t, ob)[o.Ref+":expire"]
	if rec == nil || rec.Type != RecordQRExpire {
		t.Fatalf("no qr.expire record: %v", keys(pending(t, ob)))
	}
	if b, err := ParseQRCloseBody(rec.Body); err != nil || b.Ref != o.Ref {
		t.Fatalf("qr.expire body %s: %v", rec.Body, err)
	}
	// Once: Drive again sends nothing more.
	s.Drive(ctx)
	if n := len(pending(t, ob)); n != 2 {
		t.Fatalf("%d records waiting, want the order and its expiry", n)
	}
	s.OnQRResult(envelope.Result{Key: o.Ref + ":expire", Status: ResultQRExpired})
	if !mustQR(t, s, o.Ref).Closed {
		t.Fatal("the platform's expired not recorded")
	}
	err := s.ApplyCommand(ctx, paidCmd(o, c.Now()))
	if !errors.Is(err, ErrQRClosed) || mustQR(t, s, o.Ref).Status != QRExpired {
		t.Fatalf("qr_paid after the platform agreed it expired: %v, %s", err, mustQR(t, s, o.Ref).Status)
	}
	r, _ := s.Report(ctx, o.Day)
	if r.Sales != 0 || r.QR == nil || len(r.QR.Ended) != 1 || r.QR.Ended[0].Status != QRExpired || r.QR.Ended[0].Ref != o.Ref {
		t.Fatalf("report %+v qr %+v", r, r.QR)
	}
}

// TestQROrderCancelled: the cashier cancels; a wallet that paid before
// the cancel reached the platform wins, one after is refused.
func TestQROrderCancelled(t *testing.T) {
	s, ob, c, _ := newQRService(t)
	ctx := context.Background()
	a, _ := s.StartQR(ctx, 700)
	b, _ := s.StartQR(ctx, 800)
	for _, o := range []*QROrder{a, b} {
		got, err := s.CancelQR(ctx, o.Ref)
		if err != nil || got.Status != QRCancelled {
			t.Fatalf("cancel: %+v %v", got, err)
		}
		if rec := pending(t, ob)[o.Ref+":cancel"]; rec == nil || rec.Type != RecordQRCancel {
			t.Fatalf("no qr.cancel record: %v", keys(pending(t, ob)))
		}
	}
	if _, err := s.CancelQR(ctx, a.Ref); !errors.Is(err, ErrState) {
		t.Fatalf("cancel twice: %v", err)
	}
	if _, err := s.CancelQR(ctx, "Qnope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancel of an unknown order: %v", err)
	}
	// a: the platform cancelled it, a paid notice after that is refused.
	s.OnQRResult(envelope.Result{Key: a.Ref + ":cancel", Status: ResultQRCancelled})
	if err := s.ApplyCommand(ctx, paidCmd(a, c.Now())); !errors.Is(err, ErrQRClosed) {
		t.Fatalf("paid after cancel: %v", err)
	}
	// b: the wallet paid before the cancel reached the platform.
	s.OnQRResult(envelope.Result{Key: b.Ref + ":cancel", Status: ResultQRPaid})
	got := mustQR(t, s, b.Ref)
	if got.Status != QRPaid || !strings.Contains(got.Reason, "before the cancel") {
		t.Fatalf("cancel answered paid: %+v", got)
	}
	r, _ := s.Report(ctx, a.Day)
	if r.Sales != 800 || r.QR == nil || len(r.QR.Ended) != 1 || r.QR.Ended[0].Status != QRCancelled {
		t.Fatalf("report %+v qr %+v", r, r.QR)
	}
}

// TestQROrderNoticeChecked: a qr_paid for another amount, or an unknown
// order, changes nothing.
func TestQROrderNoticeChecked(t *testing.T) {
	s, _, c, _ := newQRService(t)
	ctx := context.Background()
	o, _ := s.StartQR(ctx, 900)
	bad := *o
	bad.Amount = 1
	if err := s.ApplyCommand(ctx, paidCmd(&bad, c.Now())); !errors.Is(err, ErrQR) {
		t.Fatalf("qr_paid for another amount: %v", err)
	}
	bad = *o
	bad.Ref = "Qunknown"
	if err := s.ApplyCommand(ctx, paidCmd(&bad, c.Now())); !errors.Is(err, ErrNotFound) {
		t.Fatalf("qr_paid for an unknown order: %v", err)
	}
	if got := mustQR(t, s, o.Ref).Status; got != QROpen {
		t.Fatalf("order after bad notices: %s", got)
	}
	// A platform that refuses the order: nobody can pay it.
	s.OnQRResult(envelope.Result{Key: o.Ref, Status: StatusDeclined, Reason: "reference in use"})
	if got := mustQR(t, s, o.Ref); got.Status != QRCancelled || !got.Closed {
		t.Fatalf("refused order: %+v", got)
	}
}

// TestQROrderRestart: a new Service over the same store follows the
// orders the last one left: it expires one, takes the notice of another.
func TestQROrderRestart(t *testing.T) {
	s, ob, c, _ := newQRService(t)
	ctx := context.Background()
	a, _ := s.StartQR(ctx, 100)
	b, _ := s.StartQR(ctx, 200)
	s.OnQRResult(envelope.Result{Key: a.Ref, Status: ResultQROpen})
	s2 := &Service{Store: ob, Currency: "CNY", Now: c.Now, QRTTL: time.Minute}
	if err := s2.ApplyCommand(ctx, paidCmd(b, c.Now())); err != nil {
		t.Fatal(err)
	}
	c.Add(time.Minute)
	s2.Drive(ctx)
	if x, y := mustQR(t, s2, a.Ref).Status, mustQR(t, s2, b.Ref).Status; x != QRExpired || y != QRPaid {
		t.Fatalf("after the restart: %s, %s", x, y)
	}
}

func TestParseQRHostile(t *testing.T) {
	long := strings.Repeat("A", MaxRef+1)
	for _, c := range []struct {
		name, in string
		ok       bool
	}{
		{"good", `{"ref":"Q1-a","amount":1,"currency":"CNY","expires":5}`, true},
		{"empty", ``, false},
		{"not an object", `[1]`, false},
		{"null", `null`, false},
		{"no ref", `{"amount":1,"currency":"CNY","expires":5}`, false},
		{"ref too long", `{"ref":"` + long + `","amount":1,"currency":"CNY","expires":5}`, false},
		{"ref with space", `{"ref":"Q 1","amount":1,"currency":"CNY","expires":5}`, false},
		{"ref with slash", `{"ref":"../x","amount":1,"currency":"CNY","expires":5}`, false},
		{"ref non-ascii", `{"ref":"Q１","amount":1,"currency":"CNY","expires":5}`, false},
		{"zero amount", `{"ref":"Q1","amount":0,"currency":"CNY","expires":5}`, false},
		{"negative amount", `{"ref":"Q1","amount":-5,"currency":"CNY","expires":5}`, false},
		{"huge amount", `{"ref":"Q1","amount":999999999999999,"currency":"CNY","expires":5}`, false},
		{"float amount", `{"ref":"Q1","amount":1.5,"currency":"CNY","expires":5}`, false},
		{"string amount", `{"ref":"Q1","amount":"1","currency":"CNY","expires":5}`, false},
		{"lower currency", `{"ref":"Q1","amount":1,"currency":"cny","expires":5}`, false},
		{"no expiry", `{"ref":"Q1","amount":1,"currency":"CNY"}`, false},
		{"unknown field", `{"ref":"Q1","amount":1,"currency":"CNY","expires":5,"x":1}`, false},
		{"trailing", `{"ref":"Q1","amount":1,"currency":"CNY","expires":5}{}`, false},
		{"too big", `{"ref":"Q1","amount":1,"currency":"CNY","expires":5,"pad":"` + strings.Repeat("x", 2000) + `"}`, false},
	} {
		_, err := ParseQROrderBody([]byte(c.in))
		if (err == nil) != c.ok {
			t.Errorf("qr.order %s: err %v", c.name, err)
		}
		if err != nil && !errors.Is(err, ErrQR) {
			t.Errorf("qr.order %s: %v does not wrap ErrQR", c.name, err)
		}
		// The same shape as the notice, with at for expires.
		_, err = ParseQRPaid([]byte(strings.Replace(c.in, `"expires"`, `"at"`, 1)))
		if (err == nil) != c.ok {
			t.Errorf("qr_paid %s: err %v", c.name, err)
		}
	}
	for _, c := range []struct {
		in string
		ok bool
	}{{`{"ref":"Q1"}`, true}, {`{}`, false}, {`{"ref":""}`, false}, {`{"ref":"Q1","amount":1}`, false}, {`{"ref":"` + long + `"}`, false}, {`"Q1"`, false}} {
		if _, err := ParseQRCloseBody([]byte(c.in)); (err == nil) != c.ok {
			t.Errorf("close %s: err %v", c.in, err)
		}
	}
}

// FuzzParseQR checks the QR parsers never panic and what they accept is
// within bounds.
func FuzzParseQR(f *testing.F) {
	f.Add([]byte(`{"ref":"Q1-a","amount":1,"currency":"CNY","expires":5}`))
	f.Add([]byte(`{"ref":"Q1","amount":1,"currency":"CNY","at":5}`))
	f.Add([]byte(`{"ref":"Q1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if o, err := ParseQROrderBody(b); err == nil && (!validRef(o.Ref) || o.Amount <= 0 || o.Amount > MaxAmount || o.Expires <= 0) {
			t.Fatalf("accepted %+v", o)
		}
		if p, err := ParseQRPaid(b); err == nil && (!validRef(p.Ref) || p.Amount <= 0 || p.Amount > MaxAmount || p.At <= 0) {
			t.Fatalf("accepted %+v", p)
		}
		if c, err := ParseQRCloseBody(b); err == nil && !validRef(c.Ref) {
			t.Fatalf("accepted %+v", c)
		}
	})
}
