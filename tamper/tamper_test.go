package tamper_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/device/gpio"
	"github.com/guichet/guichet/device/gpio/sim"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/tamper"
)

type rig struct {
	path  string
	store *outbox.Store
	log   *audit.Log
	staff *staff.Staff
}

func openRig(t *testing.T, path string) *rig {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	st, err := outbox.Open(path, outbox.Identity{Tenant: "t1", Device: "d1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	al, err := audit.Open(context.Background(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{path: path, store: st, log: al, staff: &staff.Staff{Store: st, Iterations: 1000, LockAfter: 3}}
}

func (r *rig) open(t *testing.T, p tamper.Policy, onChange func(tamper.State)) *tamper.Switch {
	t.Helper()
	sw, err := tamper.Open(context.Background(), tamper.Config{Store: r.store, Audit: r.log, Staff: r.staff, Policy: p, OnChange: onChange})
	if err != nil {
		t.Fatal(err)
	}
	return sw
}

// records returns the types and keys of the records waiting in the outbox.
func (r *rig) records(t *testing.T, typ string) []string {
	t.Helper()
	es, err := r.store.Pending(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range es {
		if e.Type == typ {
			keys = append(keys, e.Key)
		}
	}
	return keys
}

// steps returns the audit entries' step:outcome, in order.
func (r *rig) steps(t *testing.T) []string {
	t.Helper()
	encs, err := audit.Entries(context.Background(), r.store)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range encs {
		e, err := audit.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Step+":"+e.Outcome)
	}
	if _, err := r.log.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSwitchLocksUntilATechnicianClears(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	r := openRig(t, path)
	for _, p := range []struct {
		id   string
		role staff.Role
	}{{"ana", staff.Cashier}, {"bo", staff.Supervisor}, {"tech1", staff.Technician}} {
		if err := r.staff.Add(ctx, p.id, p.id, p.role, "482913"); err != nil {
			t.Fatal(err)
		}
	}
	lines := sim.New()
	changes := make(chan tamper.State, 8)
	sw := r.open(t, "", func(s tamper.State) { changes <- s })
	if err := sw.Check(); err != nil {
		t.Fatalf("Check before any opening = %v", err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sw.Watch(wctx, lines, gpio.LineTamper) }()
	<-lines.Watched(gpio.LineTamper)
	lines.Set(gpio.LineTamper, true) // the watcher runs before Set returns
	if st := <-changes; !st.Locked || !st.Open || st.Openings != 1 || st.Policy != tamper.Lock {
		t.Fatalf("after opening: %+v", st)
	}
	if err := sw.Check(); !errors.Is(err, tamper.ErrLocked) || !strings.Contains(err.Error(), "technician must clear") {
		t.Fatalf("Check = %v", err)
	}
	lines.Set(gpio.LineTamper, false)
	if st := <-changes; !st.Locked || st.Open {
		t.Fatalf("after closing: %+v (the lock stays until cleared)", st)
	}
	stop()
	<-done
	if got := r.records(t, tamper.RecordType); len(got) != 1 || got[0] != "tamper-opened-1" {
		t.Fatalf("events = %v", got)
	}
	if got := strings.Join(r.steps(t), " "); got != "tamper:opened tamper:closed" {
		t.Fatalf("audit = %s", got)
	}

	// Restart: still locked, and the same opening is no new event.
	r.store.Close()
	r = openRig(t, path)
	sw = r.open(t, tamper.Lock, nil)
	if err := sw.Check(); !errors.Is(err, tamper.ErrLocked) {
		t.Fatalf("after restart Check = %v", err)
	}
	if err := sw.Changed(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := r.records(t, tamper.RecordType); len(got) != 1 {
		t.Fatalf("events after restart = %v", got)
	}

	// A cashier's or supervisor's right PIN does not clear; a wrong
	// technician's PIN neither.
	for _, c := range []struct{ id, pin string }{{"ana", "482913"}, {"bo", "482913"}, {"tech1", "000000"}, {"nobody", "482913"}} {
		if _, err := sw.Clear(ctx, c.id, c.pin); err == nil {
			t.Fatalf("Clear by %s accepted", c.id)
		}
		if sw.Check() == nil {
			t.Fatalf("unlocked by %s", c.id)
		}
	}
	st, err := sw.Clear(ctx, "tech1", "482913")
	if err != nil {
		t.Fatal(err)
	}
	if st.Locked || st.ClearedBy != "tech1" || sw.Check() != nil {
		t.Fatalf("after clear: %+v, Check %v", st, sw.Check())
	}
	if _, err := sw.Clear(ctx, "tech1", "482913"); !errors.Is(err, tamper.ErrNotLocked) {
		t.Fatalf("second Clear = %v", err)
	}
	if got := strings.Join(r.records(t, tamper.RecordType), " "); got != "tamper-opened-1 tamper-cleared-1" {
		t.Fatalf("events = %v", got)
	}
	want := "tamper:opened tamper:closed tamper_clear:refused tamper_clear:refused tamper_clear:refused tamper_clear:refused tamper_clear:ok"
	if got := strings.Join(r.steps(t), " "); got != want {
		t.Fatalf("audit =\n%s\nwant\n%s", got, want)
	}

	// Cleared survives a restart too.
	r.store.Close()
	r = openRig(t, path)
	if err := r.open(t, tamper.Lock, nil).Check(); err != nil {
		t.Fatalf("after clear and restart: %v", err)
	}
}

func TestOpenedWhileOff(t *testing.T) {
	ctx := context.Background()
	r := openRig(t, filepath.Join(t.TempDir(), "outbox.db"))
	lines := sim.New()
	lines.Set(gpio.LineTamper, true)
	sw := r.open(t, tamper.Lock, nil)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go sw.Watch(wctx, lines, gpio.LineTamper)
	<-lines.Watched(gpio.LineTamper) // the level at start is read first
	if err := sw.Check(); !errors.Is(err, tamper.ErrLocked) {
		t.Fatalf("Check = %v", err)
	}
}

func TestAlertPolicyDoesNotLock(t *testing.T) {
	ctx := context.Background()
	r := openRig(t, filepath.Join(t.TempDir(), "outbox.db"))
	sw := r.open(t, tamper.Alert, nil)
	if err := sw.Changed(ctx, true); err != nil {
		t.Fatal(err)
	}
	if st := sw.State(); st.Locked || !st.Open || st.Openings != 1 {
		t.Fatalf("state = %+v", st)
	}
	if sw.Check() != nil {
		t.Fatal("locked under the alert policy")
	}
	if got := r.records(t, tamper.RecordType); len(got) != 1 {
		t.Fatalf("events = %v", got)
	}
	if got := strings.Join(r.steps(t), " "); got != "tamper:opened" {
		t.Fatalf("audit = %s", got)
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]tamper.Policy{"": tamper.Lock, "lock": tamper.Lock, "alert": tamper.Alert} {
		if got, err := tamper.ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"LOCK", "none", "lock ", "\x00"} {
		if _, err := tamper.ParsePolicy(in); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", in)
		}
	}
}

// The checkout refuses refunds and voids while locked, and the drawer
// stays shut; a technician's clearing lets them through again.
func TestLockRefusesRefundsAndVoids(t *testing.T) {
	ctx := context.Background()
	r := openRig(t, filepath.Join(t.TempDir(), "outbox.db"))
	if err := r.staff.Add(ctx, "tech1", "Tech One", staff.Technician, "482913"); err != nil {
		t.Fatal(err)
	}
	sw := r.open(t, tamper.Lock, nil)
	d := &drawer{}
	co := &checkout.Service{Store: r.store, Currency: "CNY", Lock: sw.Check, Drawer: d}
	p, err := co.PayCash(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	q, err := co.PayCash(ctx, 500)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Changed(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := co.Refund(ctx, p.ID, 100); !errors.Is(err, tamper.ErrLocked) || !strings.Contains(err.Error(), "the till is locked after the tamper switch opened: a technician must clear it") {
		t.Fatalf("Refund while locked: %v", err)
	}
	if _, err := co.Void(ctx, q.ID); !errors.Is(err, tamper.ErrLocked) {
		t.Fatalf("Void while locked: %v", err)
	}
	if d.opens != 2 {
		t.Fatalf("drawer opened %d times, want the two sales' only", d.opens)
	}
	// Sales still go through: the lock is on money going out.
	if _, err := co.PayCash(ctx, 200); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Clear(ctx, "tech1", "482913"); err != nil {
		t.Fatal(err)
	}
	if _, err := co.Refund(ctx, p.ID, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := co.Void(ctx, q.ID); err != nil {
		t.Fatal(err)
	}
}

type drawer struct{ opens int }

func (d *drawer) OpenDrawer(context.Context) error { d.opens++; return nil }
