package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

const wx = "134567890123456780"

type linkFlag struct{ on atomic.Bool }

func (l *linkFlag) Online() bool { return l.on.Load() }

// clock is a settable clock for the Service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClocked(t *testing.T) (*Service, *outbox.Store, *clock) {
	s, ob := newService(t)
	c := &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.Local)}
	s.Now = c.Now
	s.Log = slog.New(slog.DiscardHandler)
	s.PollEvery, s.ConfirmTimeout = 5*time.Second, 45*time.Second
	return s, ob, c
}

// pending returns the records waiting in the outbox, by key.
func pending(t *testing.T, ob *outbox.Store) map[string]*envelope.Record {
	t.Helper()
	ents, err := ob.Pending(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*envelope.Record{}
	for _, e := range ents {
		rec, err := envelope.DecodeRecord(mustPayload(t, e.Frame))
		if err != nil {
			t.Fatal(err)
		}
		out[rec.Key] = rec
	}
	return out
}

func mustGet(t *testing.T, s *Service, id string) *Payment {
	t.Helper()
	p, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUserPayingQueriesThenApproved(t *testing.T) {
	s, ob, c := newClocked(t)
	ctx := context.Background()
	p, err := s.Pay(ctx, 100, wx)
	if err != nil {
		t.Fatal(err)
	}
	s.OnResult(envelope.Result{Seq: 1, Key: p.ID, Status: StatusUserPaying})
	if got := mustGet(t, s, p.ID); got.Status != StatusUserPaying {
		t.Fatalf("status %s", got.Status)
	}
	s.Drive(ctx) // too early for a query
	if n := len(pending(t, ob)); n != 1 {
		t.Fatalf("%d records before the poll interval, want 1", n)
	}
	c.Add(5 * time.Second)
	s.Drive(ctx)
	s.Drive(ctx) // a second round sends nothing: the query is unanswered
	recs := pending(t, ob)
	q := recs[p.ID+":query:1"]
	if q == nil || q.Type != RecordPaymentQuery || len(recs) != 2 {
		t.Fatalf("records %v", keys(recs))
	}
	var qb QueryBody
	if err := json.Unmarshal(q.Body, &qb); err != nil || qb.ID != p.ID || qb.N != 1 {
		t.Fatalf("query body %s", q.Body)
	}
	s.OnResult(envelope.Result{Seq: q.Seq, Key: q.Key, Status: StatusUserPaying})
	c.Add(5 * time.Second)
	s.Drive(ctx)
	if recs := pending(t, ob); recs[p.ID+":query:2"] == nil {
		t.Fatalf("no second query: %v", keys(recs))
	}
	s.OnResult(envelope.Result{Seq: 3, Key: p.ID + ":query:2", Status: StatusApproved})
	if got := mustGet(t, s, p.ID); got.Status != StatusApproved || got.Queries != 2 {
		t.Fatalf("after approval %+v", got)
	}
	c.Add(time.Minute)
	s.Drive(ctx)
	if recs := pending(t, ob); len(recs) != 3 {
		t.Fatalf("approved payment still driven: %v", keys(recs))
	}
}

func keys(m map[string]*envelope.Record) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestUserPayingReversedThenLateSuccessRefunded(t *testing.T) {
	s, ob, c := newClocked(t)
	ctx := context.Background()
	p, _ := s.Pay(ctx, 2500, wx)
	s.OnResult(envelope.Result{Seq: 1, Key: p.ID, Status: StatusUserPaying})
	for i := 0; i < 10; i++ {
		c.Add(5 * time.Second)
		s.Drive(ctx)
		for k, r := range pending(t, ob) {
			if strings.Contains(k, ":query:") {
				s.OnResult(envelope.Result{Seq: r.Seq, Key: k, Status: StatusUserPaying})
			}
		}
	}
	got := mustGet(t, s, p.ID)
	if got.Status != StatusReversed {
		t.Fatalf("after 50 s: %+v", got)
	}
	recs := pending(t, ob)
	rev := recs[p.ID+":reverse"]
	if rev == nil || rev.Type != RecordPaymentReverse {
		t.Fatalf("no reverse record: %v", keys(recs))
	}
	if got.Queries != 8 {
		t.Errorf("%d queries in 45 s at 5 s, want 8", got.Queries)
	}
	// The answer to the last query, applied before the reverse, says the
	// customer did pay: the money goes back.
	s.OnResult(envelope.Result{Seq: 9, Key: p.ID + ":query:8", Status: StatusApproved})
	s.OnResult(envelope.Result{Seq: 9, Key: p.ID + ":query:8", Status: StatusApproved}) // repeated
	got = mustGet(t, s, p.ID)
	if got.Status != StatusReversed || !got.LateRefund || got.Refunded != 2500 {
		t.Fatalf("late success %+v", got)
	}
	recs = pending(t, ob)
	rf := recs[p.ID+":refund:late"]
	if rf == nil {
		t.Fatalf("no late refund: %v", keys(recs))
	}
	var rb RefundBody
	if json.Unmarshal(rf.Body, &rb); rb.Amount != 2500 || rb.Paid != 2500 || rb.Before != 0 {
		t.Fatalf("refund body %s", rf.Body)
	}
	// The reverse refused as the order was paid: no second refund.
	s.OnResult(envelope.Result{Seq: 10, Key: p.ID + ":reverse", Status: StatusDeclined, Reason: "already paid"})
	recs = pending(t, ob)
	n := 0
	for k := range recs {
		if strings.Contains(k, ":refund:") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d refunds for one late success", n)
	}
}

func TestReverseRefusedRefunds(t *testing.T) {
	s, ob, c := newClocked(t)
	ctx := context.Background()
	p, _ := s.Pay(ctx, 900, wx)
	s.OnResult(envelope.Result{Seq: 1, Key: p.ID, Status: StatusUserPaying})
	c.Add(46 * time.Second)
	s.Drive(ctx)
	s.OnResult(envelope.Result{Seq: 2, Key: p.ID + ":reverse", Status: StatusDeclined, Reason: "already paid"})
	got := mustGet(t, s, p.ID)
	if got.Status != StatusReversed || !got.LateRefund || pending(t, ob)[p.ID+":refund:late"] == nil {
		t.Fatalf("refused reverse not refunded: %+v", got)
	}
}

func TestDriverResumesAfterRestart(t *testing.T) {
	s, ob, c := newClocked(t)
	ctx := context.Background()
	p, _ := s.Pay(ctx, 100, wx)
	s.OnResult(envelope.Result{Seq: 1, Key: p.ID, Status: StatusUserPaying})
	// A new Service over the same store: state is in its tables.
	s2 := &Service{Store: ob, Currency: "CNY", Now: c.Now, PollEvery: time.Second, ConfirmTimeout: 45 * time.Second}
	c.Add(2 * time.Second)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- s2.Run(runCtx) }()
	deadline := time.Now().Add(5 * time.Second)
	for pending(t, ob)[p.ID+":query:1"] == nil {
		if time.Now().After(deadline) {
			t.Fatal("Run sent no query after the restart")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
}

func TestOfflineWithinLimits(t *testing.T) {
	s, ob, _ := newClocked(t)
	ctx := context.Background()
	lk := &linkFlag{}
	s.Link = lk
	s.OfflinePerTransaction, s.OfflineTotal = 5000, 8000
	p1, err := s.Pay(ctx, 5000, wx)
	if err != nil || p1.Status != StatusApprovedOffline || !p1.Offline {
		t.Fatalf("offline payment %+v %v", p1, err)
	}
	// Over the limits: declined, stored for the day's list, never sent.
	for _, amount := range []int64{5001, 3001} {
		if p, err := s.Pay(ctx, amount, wx); err != nil || p.Status != StatusDeclined || p.Reason != ReasonOverLimit {
			t.Fatalf("%d above the offline limits: %+v %v", amount, p, err)
		}
	}
	p2, err := s.Pay(ctx, 3000, "2812345678901234")
	if err != nil || p2.Status != StatusApprovedOffline {
		t.Fatalf("second offline payment %+v %v", p2, err)
	}
	if st := ob.Stats(); st.LastSeq != 2 {
		t.Fatalf("refused payments stored: %+v", st)
	}
	n, sum, _ := s.OfflinePending(ctx)
	if n != 2 || sum != 8000 {
		t.Fatalf("offline pending %d %d", n, sum)
	}
	// Forwarded with its own key: the record's key is the payment id.
	recs := pending(t, ob)
	var ab AuthBody
	json.Unmarshal(recs[p1.ID].Body, &ab)
	if !ab.Offline || ab.ID != p1.ID {
		t.Fatalf("auth body %+v", ab)
	}
	// The platform approves one and declines the other: a loss.
	s.OnResult(envelope.Result{Seq: 1, Key: p1.ID, Status: StatusApproved})
	s.OnResult(envelope.Result{Seq: 2, Key: p2.ID, Status: StatusDeclined, Reason: "blocked"})
	if got := mustGet(t, s, p2.ID); got.Status != StatusDeclined || !got.Loss {
		t.Fatalf("declined offline payment %+v", got)
	}
	if n, _, _ := s.OfflinePending(ctx); n != 0 {
		t.Fatalf("%d still pending offline", n)
	}
	rep, err := s.Report(ctx, p1.Day)
	if err != nil || rep.OfflineDeclined != 3000 || rep.OfflineDeclinedCount != 1 || rep.Sales != 5000 || rep.OfflinePending != 0 {
		t.Fatalf("report %+v %v", rep, err)
	}
	// The room freed, the next offline payment fits again.
	if _, err := s.Pay(ctx, 5000, wx); err != nil {
		t.Fatal(err)
	}
	// Online again but the platform silent: the limits still decide, and
	// the payment sent is reversed after it.
	lk.on.Store(true)
	p3, err := s.Pay(ctx, 90000, wx)
	if err != nil || p3.Status != StatusDeclined || p3.Reason != ReasonOverLimit {
		t.Fatalf("online payment, platform silent %+v %v", p3, err)
	}
	if recs := pending(t, ob); recs[p3.ID] == nil || recs[p3.ID+":reverse"] == nil {
		t.Fatalf("auth and reverse of %s not both sent: %v", p3.ID, recs)
	}
}

func TestOfflineLimitsFromPlatform(t *testing.T) {
	s, _, _ := newClocked(t)
	ctx := context.Background()
	s.Link = &linkFlag{}
	s.OfflinePerTransaction, s.OfflineTotal = 100, 100
	if p, err := s.Pay(ctx, 1000, wx); err != nil || p.Reason != ReasonOverLimit {
		t.Fatalf("default limit not applied: %+v %v", p, err)
	}
	err := s.ApplyCommand(ctx, &envelope.Command{ID: "c1", Name: CommandOfflineLimits, Args: []byte(`{"per_transaction":2000,"total":3000}`)})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Pay(ctx, 1000, wx); err != nil || p.Status != StatusApprovedOffline {
		t.Fatalf("platform limit not applied: %+v %v", p, err)
	}
	// A new Service over the same store reads the limits from its tables.
	s2 := &Service{Store: s.Store, Currency: "CNY", Link: &linkFlag{}}
	if l := s2.Limits(ctx); l.PerTransaction != 2000 || l.Total != 3000 {
		t.Fatalf("limits after restart %+v", l)
	}
	// A bad command changes nothing.
	if err := s.ApplyCommand(ctx, &envelope.Command{ID: "c2", Name: CommandOfflineLimits, Args: []byte(`{"per_transaction":-1,"total":3000}`)}); err == nil {
		t.Fatal("bad offline limits accepted")
	}
	if l := s.Limits(ctx); l.PerTransaction != 2000 {
		t.Fatalf("bad command applied: %+v", l)
	}
}

func TestRefunds(t *testing.T) {
	s, ob, _ := newClocked(t)
	ctx := context.Background()
	p, _ := s.Pay(ctx, 1000, wx)
	if _, err := s.Refund(ctx, p.ID, 100); !errors.Is(err, ErrState) {
		t.Fatalf("refund of a queued payment: %v", err)
	}
	s.OnResult(envelope.Result{Seq: 1, Key: p.ID, Status: StatusApproved})
	if _, err := s.Refund(ctx, p.ID, 600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refund(ctx, p.ID, 401); !errors.Is(err, ErrInput) {
		t.Fatalf("refund above what is left: %v", err)
	}
	for _, a := range []int64{0, -5} {
		if _, err := s.Refund(ctx, p.ID, a); !errors.Is(err, ErrInput) {
			t.Fatalf("refund of %d: %v", a, err)
		}
	}
	if _, err := s.Refund(ctx, p.ID, 400); err != nil {
		t.Fatal(err)
	}
	recs := pending(t, ob)
	if recs[p.ID+":refund:1"] == nil || recs[p.ID+":refund:2"] == nil {
		t.Fatalf("refund records %v", keys(recs))
	}
	// The platform refuses the second: its amount can be refunded again.
	s.OnResult(envelope.Result{Seq: 2, Key: p.ID + ":refund:1", Status: ResultRefunded})
	s.OnResult(envelope.Result{Seq: 3, Key: p.ID + ":refund:2", Status: StatusDeclined, Reason: "no"})
	got := mustGet(t, s, p.ID)
	if got.Refunded != 600 || got.Refunds[0].Status != ResultRefunded || got.Refunds[1].Status != StatusDeclined {
		t.Fatalf("after answers %+v", got)
	}
	if _, err := s.Refund(ctx, p.ID, 400); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Void(ctx, p.ID); !errors.Is(err, ErrState) {
		t.Fatalf("void of a refunded payment: %v", err)
	}
	rep, _ := s.Report(ctx, p.Day)
	if rep.Refunds != 1000 || rep.RefundCount != 2 || rep.Net != 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestVoidSameDayOnly(t *testing.T) {
	s, ob, c := newClocked(t)
	ctx := context.Background()
	p1, _ := s.Pay(ctx, 700, wx)
	p2, _ := s.Pay(ctx, 300, wx)
	p3, _ := s.Pay(ctx, 200, wx)
	for i, p := range []*Payment{p1, p2, p3} {
		s.OnResult(envelope.Result{Seq: uint64(i + 1), Key: p.ID, Status: StatusApproved})
	}
	v, err := s.Void(ctx, p1.ID)
	if err != nil || v.Status != StatusVoided {
		t.Fatalf("void %+v %v", v, err)
	}
	if _, err := s.Void(ctx, p1.ID); !errors.Is(err, ErrState) {
		t.Fatalf("second void: %v", err)
	}
	if pending(t, ob)[p1.ID+":void"] == nil {
		t.Fatal("no void record")
	}
	// A refused void puts the payment back.
	s.Void(ctx, p3.ID)
	s.OnResult(envelope.Result{Seq: 5, Key: p3.ID + ":void", Status: StatusDeclined, Reason: "settled"})
	if got := mustGet(t, s, p3.ID); got.Status != StatusApproved {
		t.Fatalf("refused void left %s", got.Status)
	}
	rep, err := s.CloseDay(ctx)
	if err != nil || !rep.Closed || rep.Sales != 500 || rep.Voids != 700 || rep.VoidCount != 1 || rep.Count != 2 {
		t.Fatalf("close %+v %v", rep, err)
	}
	if _, err := s.Void(ctx, p2.ID); !errors.Is(err, ErrState) {
		t.Fatalf("void after close: %v", err)
	}
	again, err := s.CloseDay(ctx)
	if err != nil || !again.ClosedAt.Equal(rep.ClosedAt) {
		t.Fatalf("second close %+v %v", again, err)
	}
	if pending(t, ob)["day-"+p1.Day] == nil {
		t.Fatal("no day.close record")
	}
	// The next day, yesterday's payment cannot be voided but can be refunded.
	c.Add(24 * time.Hour)
	if _, err := s.Refund(ctx, p2.ID, 300); err != nil {
		t.Fatal(err)
	}
	today, _ := s.Report(ctx, dayOf(c.Now()))
	if today.Refunds != 300 || today.Sales != 0 {
		t.Fatalf("next day's report %+v", today)
	}
}

func TestSplitBill(t *testing.T) {
	s, _, _ := newClocked(t)
	ctx := context.Background()
	o, err := s.NewOrder(ctx, 10000)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.PayPart(ctx, o.ID, 6000, wx)
	if err != nil || a.Order != o.ID {
		t.Fatalf("part %+v %v", a, err)
	}
	if _, err := s.PayPart(ctx, o.ID, 4001, wx); !errors.Is(err, ErrInput) {
		t.Fatalf("part above what is left: %v", err)
	}
	b, err := s.PayPart(ctx, o.ID, 4000, "2812345678901234")
	if err != nil {
		t.Fatal(err)
	}
	s.OnResult(envelope.Result{Seq: 1, Key: a.ID, Status: StatusApproved})
	s.OnResult(envelope.Result{Seq: 2, Key: b.ID, Status: StatusDeclined})
	v, _ := s.GetOrder(ctx, o.ID)
	if v.Status != OrderOpen || v.Paid != 6000 || v.Remaining != 4000 {
		t.Fatalf("order after a declined part %+v", v)
	}
	c, err := s.PayPart(ctx, o.ID, 4000, wx)
	if err != nil {
		t.Fatal(err)
	}
	s.OnResult(envelope.Result{Seq: 3, Key: c.ID, Status: StatusApproved})
	v, _ = s.GetOrder(ctx, o.ID)
	if v.Status != OrderPaid || v.Paid != 10000 || v.Remaining != 0 || len(v.Payments) != 3 {
		t.Fatalf("order %+v", v)
	}
	if _, err := s.PayPart(ctx, o.ID, 1, wx); !errors.Is(err, ErrState) {
		t.Fatalf("part of a paid order: %v", err)
	}
	if _, err := s.PayPart(ctx, "ord-nope", 1, wx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown order: %v", err)
	}
	if _, err := s.NewOrder(ctx, 0); !errors.Is(err, ErrInput) {
		t.Fatal("empty order accepted")
	}
}

func TestSplitBillConcurrentPartsNeverExceedTotal(t *testing.T) {
	s, _, _ := newClocked(t)
	s.WaitOnline = 0
	ctx := context.Background()
	o, _ := s.NewOrder(ctx, 1000)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.PayPart(ctx, o.ID, 300, wx); err == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 3 {
		t.Fatalf("%d parts of 3.00 accepted on a 10.00 bill, want 3", ok.Load())
	}
}

func TestPromotionAppliedAndOnReceipt(t *testing.T) {
	s, ob, c := newClocked(t)
	ctx := context.Background()
	s.Site, s.Merchant = "shop-1", "Boulangerie"
	from := c.Now().Add(-time.Hour).Format(time.RFC3339)
	until := c.Now().Add(time.Hour).Format(time.RFC3339)
	args := `{"promotions":[{"id":"wx10","scheme":"wechat_pay","percent_off":10,"max_off":500,"from":"` + from + `","until":"` + until + `","label":"WeChat Pay -10%"},` +
		`{"id":"other-site","percent_off":50,"site":"shop-2","from":"` + from + `","until":"` + until + `"}]}`
	if err := s.ApplyCommand(ctx, &envelope.Command{ID: "p1", Name: CommandPromotions, Args: []byte(args)}); err != nil {
		t.Fatal(err)
	}
	p, err := s.Pay(ctx, 1234, wx)
	if err != nil || p.Amount != 1111 || p.Discount != 123 || p.Original != 1234 || p.Promo != "wx10" {
		t.Fatalf("promoted payment %+v %v", p, err)
	}
	var ab AuthBody
	json.Unmarshal(pending(t, ob)[p.ID].Body, &ab)
	if ab.Amount != 1111 || ab.Original != 1234 {
		t.Fatalf("auth body %+v", ab)
	}
	big, _ := s.Pay(ctx, 100000, wx)
	if big.Discount != 500 {
		t.Fatalf("cap not applied: %+v", big)
	}
	ali, _ := s.Pay(ctx, 1000, "2812345678901234")
	if ali.Discount != 0 {
		t.Fatalf("promotion for another scheme applied: %+v", ali)
	}
	c.Add(2 * time.Hour)
	if late, _ := s.Pay(ctx, 1000, wx); late.Discount != 0 {
		t.Fatalf("expired promotion applied: %+v", late)
	}
	s.OnResult(envelope.Result{Seq: 1, Key: p.ID, Status: StatusApproved})
	r, err := s.Receipt(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	txt := r.Text()
	for _, want := range []string{"Boulangerie", "WeChat Pay -10%", "-1.23", "12.34", "11.11", "**************6780", "APPROVED"} {
		if !strings.Contains(txt, want) {
			t.Errorf("receipt lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, wx) || strings.Contains(txt, wx[:14]) {
		t.Fatalf("receipt shows the code:\n%s", txt)
	}
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), wx) {
		t.Fatal("receipt JSON shows the code")
	}
	// big was approved offline when the platform kept silent: its
	// discount counts too.
	rep, _ := s.Report(ctx, p.Day)
	if rep.Discounts != 123+500 {
		t.Fatalf("report discounts %d", rep.Discounts)
	}
}

func TestReportPerScheme(t *testing.T) {
	s, _, _ := newClocked(t)
	ctx := context.Background()
	var ps []*Payment
	for _, c := range []struct {
		amount int64
		code   string
	}{{100, wx}, {200, wx}, {400, "2812345678901234"}, {800, wx}} {
		p, _ := s.Pay(ctx, c.amount, c.code)
		ps = append(ps, p)
	}
	s.OnResult(envelope.Result{Seq: 1, Key: ps[0].ID, Status: StatusApproved})
	s.OnResult(envelope.Result{Seq: 2, Key: ps[1].ID, Status: StatusApproved})
	s.OnResult(envelope.Result{Seq: 3, Key: ps[2].ID, Status: StatusApproved})
	s.OnResult(envelope.Result{Seq: 4, Key: ps[3].ID, Status: StatusDeclined})
	rep, err := s.Report(ctx, ps[0].Day)
	if err != nil {
		t.Fatal(err)
	}
	want := []SchemeTotal{{"alipay", 1, 400}, {"wechat_pay", 2, 300}}
	if len(rep.Schemes) != 2 || rep.Schemes[0] != want[0] || rep.Schemes[1] != want[1] || rep.Declined != 1 || rep.Sales != 700 {
		t.Fatalf("report %+v", rep)
	}
	// An empty day is the business day (not an error since the business
	// day can be tomorrow's date: issue 11 item 5).
	if cur, err := s.Report(ctx, ""); err != nil || cur.Day != ps[0].Day || cur.Sales != 700 {
		t.Errorf("Report(\"\") = %+v, %v; want the business day %s", cur, err, ps[0].Day)
	}
	for _, bad := range []string{"2026-13-01", "yesterday", strings.Repeat("9", 1<<20)} {
		if _, err := s.Report(ctx, bad); !errors.Is(err, ErrInput) {
			t.Errorf("Report(%.20q): %v", bad, err)
		}
	}
}

// FuzzOnResult feeds results with any key and status to a store holding
// a refunded payment: the flow never panics and never counts more refunded
// than paid, or less than nothing.
func FuzzOnResult(f *testing.F) {
	for _, s := range [][2]string{{":refund:1", "declined"}, {":refund:1", "refunded"}, {":query:x", "approved"},
		{":void", "declined"}, {":reverse", "weird"}, {"", "user_paying"}, {":refund:", ""}, {"::::", "approved"}} {
		f.Add(s[0], s[1], uint64(1))
	}
	s, _ := newService(f)
	s.Log = slog.New(slog.DiscardHandler)
	ctx := context.Background()
	p, err := s.Pay(ctx, 1000, wx)
	if err != nil {
		f.Fatal(err)
	}
	s.OnResult(envelope.Result{Seq: 1, Key: p.ID, Status: StatusApproved})
	if _, err := s.Refund(ctx, p.ID, 400); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, suffix, status string, seq uint64) {
		s.OnResult(envelope.Result{Seq: seq, Key: p.ID + suffix, Status: status, Reason: status})
		s.OnResult(envelope.Result{Seq: seq, Key: suffix, Status: status})
		got := mustGet(t, s, p.ID)
		if got.Refunded < 0 || got.Refunded > got.Amount {
			t.Fatalf("refunded %d of %d", got.Refunded, got.Amount)
		}
	})
}

func TestPruneKeepsWhatIsNotSettled(t *testing.T) {
	ctx := context.Background()
	s, ob, c := newClocked(t)
	pay := func(status string) *Payment {
		t.Helper()
		p, err := s.Pay(ctx, 1000, "134567890123456780")
		if err != nil {
			t.Fatal(err)
		}
		if status != "" {
			s.OnResult(envelope.Result{Key: p.ID, Status: status})
		}
		return p
	}
	approved := pay(StatusApproved)
	declined := pay(StatusDeclined)
	refunded := pay(StatusApproved)
	if _, err := s.Refund(ctx, refunded.ID, 100); err != nil {
		t.Fatal(err)
	}
	s.OnResult(envelope.Result{Key: refunded.ID + ":refund:1", Status: ResultRefunded})
	if err := ob.Ack(ctx, ob.Stats().LastSeq); err != nil {
		t.Fatal(err)
	}
	refundPending := pay(StatusApproved)
	if _, err := s.Refund(ctx, refundPending.ID, 100); err != nil {
		t.Fatal(err)
	}
	ob.Ack(ctx, ob.Stats().LastSeq)
	unacked := pay(StatusApproved)
	queued := pay("")
	c.Add(401 * 24 * time.Hour)
	if n, err := s.Prune(ctx); n != 3 || err != nil {
		t.Fatalf("prune: %d %v, want 3", n, err)
	}
	for _, p := range []*Payment{approved, declined, refunded} {
		if _, err := s.Get(ctx, p.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("settled payment %s kept: %v", p.ID, err)
		}
	}
	for _, p := range []*Payment{refundPending, unacked, queued} {
		if _, err := s.Get(ctx, p.ID); err != nil {
			t.Errorf("payment %s (%s) pruned: %v", p.ID, p.Status, err)
		}
	}
	var refunds int
	ob.Reader().QueryRow(`SELECT count(*) FROM refunds`).Scan(&refunds)
	if refunds != 1 {
		t.Errorf("%d refunds left, want the pending one", refunds)
	}
	young := pay(StatusApproved)
	ob.Ack(ctx, ob.Stats().LastSeq)
	if n, err := s.Prune(ctx); n != 1 || err != nil {
		t.Fatalf("second prune: %d %v, want the acked one", n, err)
	}
	if _, err := s.Get(ctx, young.ID); err != nil {
		t.Errorf("young payment pruned: %v", err)
	}
	if _, err := s.Get(ctx, unacked.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("acked payment kept: %v", err)
	}
	// The retention is the Service's.
	s.Retention = 24 * time.Hour
	c.Add(48 * time.Hour)
	if n, _ := s.Prune(ctx); n != 1 {
		t.Errorf("prune with a short retention: %d, want the young one", n)
	}
}

func TestRunPrunesAtStart(t *testing.T) {
	ctx := context.Background()
	s, ob, c := newClocked(t)
	o, err := s.NewOrder(ctx, 2000)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.PayPart(ctx, o.ID, 2000, "134567890123456780")
	if err != nil {
		t.Fatal(err)
	}
	s.OnResult(envelope.Result{Key: p.ID, Status: StatusApproved})
	ob.Ack(ctx, ob.Stats().LastSeq)
	c.Add(DefaultRetention + time.Hour)
	run, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- s.Run(run) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := s.Get(ctx, p.ID); errors.Is(err, ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not prune the settled payment")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
	// The order is gone with its last payment.
	if _, err := s.GetOrder(ctx, o.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("order kept: %v", err)
	}
}

// TestSilentPlatformLateAnswers: the platform silent past WaitOnline with
// the link up; its late answers then decide. An offline approval the
// wallet declines as expired is the shop's loss in the day report; a
// payment declined over the limit that the platform still approved is
// refunded in full.
func TestSilentPlatformLateAnswers(t *testing.T) {
	s, ob, _ := newClocked(t)
	ctx := context.Background()
	lk := &linkFlag{}
	lk.on.Store(true)
	s.Link = lk
	s.OfflinePerTransaction, s.OfflineTotal = 5000, 5000
	ok, err := s.Pay(ctx, 4000, wx)
	if err != nil || ok.Status != StatusApprovedOffline || !ok.Offline || ok.Seq != 1 {
		t.Fatalf("within the limits: %+v %v", ok, err)
	}
	over, err := s.Pay(ctx, 1001, wx) // above the total left
	if err != nil || over.Status != StatusDeclined || over.Reason != ReasonOverLimit || over.Offline {
		t.Fatalf("over the total: %+v %v", over, err)
	}
	if recs := pending(t, ob); recs[over.ID+":reverse"] == nil {
		t.Fatal("no reverse after the payment declined over the limit")
	}
	s.OnResult(envelope.Result{Seq: 1, Key: ok.ID, Status: StatusDeclined, Reason: "expired"})
	s.OnResult(envelope.Result{Seq: 2, Key: over.ID, Status: StatusApproved})
	if got := mustGet(t, s, ok.ID); got.Status != StatusDeclined || !got.Loss || got.Reason != "expired" {
		t.Fatalf("expired offline payment %+v", got)
	}
	got := mustGet(t, s, over.ID)
	if got.Status != StatusDeclined || !got.LateRefund || got.Refunded != 1001 || pending(t, ob)[over.ID+":refund:late"] == nil {
		t.Fatalf("declined payment the platform approved: %+v", got)
	}
	// The reverse refused as the order is paid: no second refund.
	s.OnResult(envelope.Result{Key: over.ID + ":reverse", Status: StatusDeclined, Reason: "already paid: refund it"})
	if got := mustGet(t, s, over.ID); len(got.Refunds) != 1 {
		t.Fatalf("refunded twice: %+v", got.Refunds)
	}
	rep, err := s.Report(ctx, ok.Day)
	if err != nil || rep.OfflineDeclined != 4000 || rep.OfflineDeclinedCount != 1 || rep.Sales != 0 || rep.Declined != 2 {
		t.Fatalf("report %+v %v", rep, err)
	}
}
