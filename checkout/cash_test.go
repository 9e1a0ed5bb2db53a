package checkout

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

// drawer is a cash drawer that checks, each time it opens, that what it
// opens for is committed: a check returning an error fails the test.
type drawer struct {
	mu    sync.Mutex
	opens int
	check func() error
	fail  error
	errs  []error
}

func (d *drawer) OpenDrawer(context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.check != nil {
		if err := d.check(); err != nil {
			d.errs = append(d.errs, err)
		}
	}
	if d.fail != nil {
		return d.fail
	}
	d.opens++
	return nil
}

func (d *drawer) openings(t *testing.T) int {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, err := range d.errs {
		t.Error(err)
	}
	d.errs = nil
	return d.opens
}

// committed returns a check that the outbox holds a record of type typ
// whose key starts with prefix, and that its rows are there: the drawer
// opens only after both are on disk.
func committed(ob *outbox.Store, s *Service, typ string, want func() (string, int)) func() error {
	return func() error {
		key, refunds := want()
		ents, err := ob.Pending(context.Background(), 0, 1000)
		if err != nil {
			return err
		}
		found := false
		for _, e := range ents {
			payload, _, err := envelope.Split(e.Frame)
			if err != nil {
				return err
			}
			rec, err := envelope.DecodeRecord(payload)
			if err != nil {
				return err
			}
			found = found || rec.Type == typ && rec.Key == key
		}
		if !found {
			return errors.New("drawer opened before the record " + typ + " " + key + " was committed")
		}
		id, _, _ := strings.Cut(key, ":")
		p, err := s.Get(context.Background(), id)
		if err != nil {
			return errors.New("drawer opened before the payment was stored: " + err.Error())
		}
		if len(p.Refunds) != refunds {
			return errors.New("drawer opened before the refund was stored")
		}
		return nil
	}
}

func TestCashSaleCommittedThenDrawer(t *testing.T) {
	s, ob, _ := newClocked(t)
	ctx := context.Background()
	// No link: a cash sale needs none, and no offline limit applies.
	s.Link, s.OfflinePerTransaction, s.OfflineTotal = &linkFlag{}, 0, 0
	d := &drawer{}
	s.Drawer = d
	// The drawer's check needs the key before the sale returns: the
	// payment's id is the only payment in the store.
	var key string
	d.check = func() error {
		ps, err := s.Recent(ctx, 1)
		if err != nil || len(ps) != 1 {
			return errors.New("drawer opened before the payment was stored")
		}
		key = ps[0].ID
		return committed(ob, s, RecordPaymentCash, func() (string, int) { return key, 0 })()
	}
	p, err := s.PayCash(ctx, 1250)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != StatusApproved || p.Scheme != SchemeCash || p.Offline || p.ID != key || p.Seq != 1 {
		t.Fatalf("cash sale %+v", p)
	}
	if n := d.openings(t); n != 1 {
		t.Fatalf("drawer opened %d times", n)
	}
	rec := pending(t, ob)[p.ID]
	if rec == nil || rec.Type != RecordPaymentCash || !strings.Contains(string(rec.Body), `"amount":1250`) {
		t.Fatalf("record %+v", rec)
	}
	// A wallet payment beside it; the report splits them.
	s.Link, s.OfflinePerTransaction, s.OfflineTotal = nil, MaxAmount, MaxAmount
	w, _ := s.Pay(ctx, 700, wx)
	s.OnResult(envelope.Result{Seq: 2, Key: w.ID, Status: StatusApproved})
	if n := d.openings(t); n != 1 {
		t.Fatalf("a wallet payment opened the drawer (%d openings)", n)
	}
	rep, err := s.Report(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sales != 1950 || rep.Cash != 1250 || rep.CashCount != 1 || rep.Wallet != 700 || rep.WalletCount != 1 || rep.CashDrawer != 1250 {
		t.Fatalf("report %+v", rep)
	}
	for _, a := range []int64{0, -1, MaxAmount + 1} {
		if _, err := s.PayCash(ctx, a); !errors.Is(err, ErrInput) {
			t.Errorf("cash sale of %d: %v", a, err)
		}
	}
	if n := d.openings(t); n != 1 {
		t.Fatalf("a refused sale opened the drawer (%d openings)", n)
	}
}

// TestCashDrawerOnlyAfterCommit: a sale the store refuses never opens
// the drawer; a drawer that fails leaves the sale stored and says so.
func TestCashDrawerOnlyAfterCommit(t *testing.T) {
	s, ob, _ := newClocked(t)
	ctx := context.Background()
	d := &drawer{fail: errors.New("printer offline")}
	s.Drawer = d
	p, err := s.PayCash(ctx, 500)
	if !errors.Is(err, ErrDrawer) || p == nil || p.Status != StatusApproved {
		t.Fatalf("sale with a failed drawer: %+v, %v", p, err)
	}
	if got := mustGet(t, s, p.ID); got.Status != StatusApproved {
		t.Fatalf("stored %+v", got)
	}
	d.fail = nil
	ob.Close()
	if p, err := s.PayCash(ctx, 500); err == nil || errors.Is(err, ErrDrawer) || p != nil {
		t.Fatalf("sale on a closed store: %+v, %v", p, err)
	}
	if n := d.openings(t); n != 0 {
		t.Fatalf("drawer opened %d times for a sale not stored", n)
	}
}

// TestCashCrashBetweenCommitAndKick kills a till (the test binary run
// again) in the drawer's kick, after the sale's commit: the sale is on
// disk when the till starts again, approved, in the report and in the
// outbox for the platform.
func TestCashCrashBetweenCommitAndKick(t *testing.T) {
	if dir := os.Getenv("GUICHET_CASH_CRASH"); dir != "" {
		s, _ := openAt(t, dir)
		s.Drawer = crashDrawer{}
		s.PayCash(context.Background(), 4200)
		t.Fatal("the drawer did not crash the till")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCashCrashBetweenCommitAndKick$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GUICHET_CASH_CRASH="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != crashCode {
		t.Fatalf("the till did not crash in the kick: %v\n%s", err, out)
	}
	s, ob := openAt(t, dir)
	ps, err := s.Recent(context.Background(), 10)
	if err != nil || len(ps) != 1 {
		t.Fatalf("after the crash: %v, %v", ps, err)
	}
	p := ps[0]
	if p.Status != StatusApproved || p.Scheme != SchemeCash || p.Amount != 4200 {
		t.Fatalf("after the crash %+v", p)
	}
	if rec := pending(t, ob)[p.ID]; rec == nil || rec.Type != RecordPaymentCash {
		t.Fatalf("record after the crash %+v", rec)
	}
	if rep, err := s.Report(context.Background(), p.Day); err != nil || rep.Cash != 4200 {
		t.Fatalf("report after the crash %+v %v", rep, err)
	}
}

const crashCode = 42

// crashDrawer ends the process as a power cut would: no deferred call,
// no store closed.
type crashDrawer struct{}

func (crashDrawer) OpenDrawer(context.Context) error { os.Exit(crashCode); return nil }

// openAt opens the store in dir with a fixed key, as a till restarting.
func openAt(t *testing.T, dir string) (*Service, *outbox.Store) {
	t.Helper()
	k := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	ob, err := outbox.Open(filepath.Join(dir, "o.db"), outbox.Identity{Tenant: "t", Device: "d", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	return &Service{Store: ob, Currency: "CNY"}, ob
}

func TestCashRefundAndVoid(t *testing.T) {
	s, ob, _ := newClocked(t)
	ctx := context.Background()
	d := &drawer{}
	s.Drawer = d
	p, err := s.PayCash(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	d.check = committed(ob, s, RecordPaymentCashRefund, func() (string, int) { return p.ID + ":refund:1", 1 })
	r, err := s.Refund(ctx, p.ID, 300)
	if err != nil {
		t.Fatal(err)
	}
	// Paid back from the drawer: done at once, nothing pending.
	if r.Refunded != 300 || len(r.Refunds) != 1 || r.Refunds[0].Status != ResultRefunded {
		t.Fatalf("after the cash refund %+v", r)
	}
	if n := d.openings(t); n != 2 {
		t.Fatalf("drawer opened %d times, want the sale's and the refund's", n)
	}
	d.check = nil
	if _, err := s.Refund(ctx, p.ID, 701); !errors.Is(err, ErrInput) {
		t.Fatalf("refund above what is left: %v", err)
	}
	if n := d.openings(t); n != 2 {
		t.Fatalf("a refused refund opened the drawer")
	}
	// The platform applies the record; should its answer reach the flow,
	// it changes nothing.
	s.OnResult(envelope.Result{Seq: 2, Key: p.ID + ":refund:1", Status: "applied"})
	s.OnResult(envelope.Result{Seq: 1, Key: p.ID, Status: "applied"})
	if got := mustGet(t, s, p.ID); got.Status != StatusApproved || got.Refunded != 300 || got.Refunds[0].Status != ResultRefunded {
		t.Fatalf("after the platform's answers %+v", got)
	}
	if _, err := s.Void(ctx, p.ID); !errors.Is(err, ErrState) {
		t.Fatalf("void of a refunded cash sale: %v", err)
	}

	q, _ := s.PayCash(ctx, 450)
	d.check = committed(ob, s, RecordPaymentCashVoid, func() (string, int) { return q.ID + ":void", 0 })
	v, err := s.Void(ctx, q.ID)
	if err != nil || v.Status != StatusVoided {
		t.Fatalf("void %+v %v", v, err)
	}
	if n := d.openings(t); n != 4 {
		t.Fatalf("drawer opened %d times, want 4", n)
	}
	recs := pending(t, ob)
	if recs[p.ID+":refund:1"].Type != RecordPaymentCashRefund || recs[q.ID+":void"].Type != RecordPaymentCashVoid {
		t.Fatalf("records %v", keys(recs))
	}
	rep, _ := s.Report(ctx, "")
	if rep.Cash != 1000 || rep.CashRefunds != 300 || rep.CashDrawer != 700 || rep.Voids != 450 || rep.Net != 700 || rep.Wallet != 0 {
		t.Fatalf("report %+v", rep)
	}
	// A failed drawer on a refund: the refund stands, the cashier is told.
	d.fail = errors.New("jammed")
	r, err = s.Refund(ctx, p.ID, 100)
	if !errors.Is(err, ErrDrawer) || r == nil || r.Refunded != 400 {
		t.Fatalf("refund with a failed drawer: %+v, %v", r, err)
	}
}

func TestParseReference(t *testing.T) {
	const id = "pay-0190c1d2e3f4a-5b6c7d8e9f00"
	for _, c := range []struct {
		in, want string
	}{
		{id, id},
		{id + "\r\n", id},
		{"  " + id + "\t", id},
		{strings.ToUpper(id), id},
		{"", ""},
		{"pay-", ""},
		{id[:len(id)-1], ""},
		{id + "0", ""},
		{"pay-0190c1d2e3f4a_5b6c7d8e9f00", ""},
		{"pay-0190c1d2e3f4g-5b6c7d8e9f00", ""},
		{"pai-0190c1d2e3f4a-5b6c7d8e9f00", ""},
		{"pay-0190c1d2e3f4a-5b6c7d8e9f0\x00", ""},
		{"pay-0190c1d2e3f4a-5b6c7d8e9f:00", ""},
		{"pay-0190c1d2e3f4a-5b6c7d8e9f00:refund:1", ""},
		{"pay-0190c1d2e3f4a-5b6c7d8e9fé", ""},
		{"pay-0190c1d2e3f4a-5b6c7d8e9f\xff\xfe", ""},
		{"134567890123456780", ""}, // a payment code, not a receipt
		{"https://example.com/" + id, ""},
		{"pay-0190c1d2e3f4a-5b6c7d8e9f00\n" + id, ""},
		{"' OR 1=1 --", ""},
		{strings.Repeat("a", 1<<20), ""},
	} {
		got, err := ParseReference(c.in)
		if got != c.want || (err == nil) != (c.want != "") || err != nil && !errors.Is(err, ErrInput) {
			t.Errorf("%.40q: %q, %v; want %q", c.in, got, err, c.want)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Errorf("%.40q: error of %d bytes echoes the input", c.in, len(err.Error()))
		}
	}
}

func FuzzParseReference(f *testing.F) {
	f.Add("pay-0190c1d2e3f4a-5b6c7d8e9f00")
	f.Add("PAY-0190C1D2E3F4A-5B6C7D8E9F00\r\n")
	f.Add("134567890123456780")
	f.Add("pay-\xff")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseReference(s)
		if err != nil {
			if id != "" || !errors.Is(err, ErrInput) {
				t.Fatalf("%q: %q, %v", s, id, err)
			}
			return
		}
		// An id parsed is one the flow could have made, and parses to itself.
		if len(id) != refLen || strings.ToLower(id) != id || !strings.Contains(strings.ToLower(s), id) {
			t.Fatalf("%q parsed to %q", s, id)
		}
		if again, err := ParseReference(id); err != nil || again != id {
			t.Fatalf("%q: again %q, %v", id, again, err)
		}
	})
}

func TestLookupAndDayPayments(t *testing.T) {
	s, _, c := newClocked(t)
	ctx := context.Background()
	a, _ := s.PayCash(ctx, 100)
	c.Add(time.Second)
	b, _ := s.Pay(ctx, 200, wx)
	got, err := s.Lookup(ctx, " "+strings.ToUpper(a.ID)+"\n")
	if err != nil || got.ID != a.ID {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	if _, err := s.Lookup(ctx, "pay-0000000000000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown reference: %v", err)
	}
	if _, err := s.Lookup(ctx, "pay-1"); !errors.Is(err, ErrInput) {
		t.Fatalf("malformed reference: %v", err)
	}
	ps, err := s.DayPayments(ctx, "")
	if err != nil || len(ps) != 2 || ps[0].ID != b.ID || ps[1].ID != a.ID {
		t.Fatalf("day's list %v, %v", ps, err)
	}
	if ps, err := s.DayPayments(ctx, "2001-01-01"); err != nil || len(ps) != 0 {
		t.Fatalf("another day's list %v, %v", ps, err)
	}
	for _, day := range []string{"2026-13-01", "yesterday", "2026-11-23' OR '1'='1"} {
		if _, err := s.DayPayments(ctx, day); !errors.Is(err, ErrInput) {
			t.Errorf("day %q: %v", day, err)
		}
	}
}
