package staff_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"

	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/sync/outbox"
)

func newStaff(t *testing.T) *staff.Staff {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	st, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Identity{Tenant: "shop1", Device: "till1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &staff.Staff{Store: st, Iterations: 1000, LockAfter: 3}
}

func TestAddCheck(t *testing.T) {
	ctx := context.Background()
	s := newStaff(t)
	if err := s.Add(ctx, "li.wei", "李伟", staff.Cashier, "482913"); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "li.wei", "Li", staff.Cashier, "111111"); !errors.Is(err, staff.ErrExists) {
		t.Errorf("second add: %v", err)
	}
	p, err := s.Check(ctx, "li.wei", "482913")
	if err != nil || p.Name != "李伟" || p.Role != staff.Cashier {
		t.Fatalf("check: %+v %v", p, err)
	}
	// The first PIN stays: the second add changed nothing.
	if _, err := s.Check(ctx, "li.wei", "111111"); !errors.Is(err, staff.ErrBadPIN) {
		t.Errorf("PIN of the refused add: %v", err)
	}
	if _, err := s.Check(ctx, "nobody", "482913"); !errors.Is(err, staff.ErrBadPIN) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := s.Supervisor(ctx, "li.wei", "482913"); !errors.Is(err, staff.ErrNotSupervisor) {
		t.Errorf("cashier as supervisor: %v", err)
	}
	if err := s.Add(ctx, "chen.jing", "Chen Jing", staff.Supervisor, "739201"); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Supervisor(ctx, "chen.jing", "739201"); err != nil || p.ID != "chen.jing" {
		t.Errorf("supervisor: %+v %v", p, err)
	}
	ps, err := s.List(ctx)
	if err != nil || len(ps) != 2 || ps[0].ID != "chen.jing" || ps[1].ID != "li.wei" {
		t.Errorf("list: %+v %v", ps, err)
	}
}

func TestRefusedAccounts(t *testing.T) {
	ctx := context.Background()
	s := newStaff(t)
	cases := []struct {
		id, name string
		role     staff.Role
		pin      string
		want     error
	}{
		{"", "x", staff.Cashier, "482913", staff.ErrID},
		{"a b", "x", staff.Cashier, "482913", staff.ErrID},
		{"li'wei", "x", staff.Cashier, "482913", staff.ErrID},
		{"Admin", "x", staff.Cashier, "482913", staff.ErrShared},
		{"cashier", "x", staff.Cashier, "482913", staff.ErrShared},
		{"li", "x", "owner", "482913", staff.ErrRole},
		{"li", "", staff.Cashier, "482913", staff.ErrName},
		{"li", "a\nb", staff.Cashier, "482913", staff.ErrName},
		{"li", "Li", staff.Cashier, "12345", nil},
	}
	for _, c := range cases {
		err := s.Add(ctx, c.id, c.name, c.role, c.pin)
		if err == nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("add %q %q %q: %v, want %v", c.id, c.name, c.role, err, c.want)
		}
	}
	if ps, _ := s.List(ctx); len(ps) != 0 {
		t.Errorf("refused accounts stored: %+v", ps)
	}
}

func TestLockOutAndReset(t *testing.T) {
	ctx := context.Background()
	s := newStaff(t)
	s.Add(ctx, "li.wei", "Li Wei", staff.Cashier, "482913")
	// A wrong PIN, then the right one: the run of failures restarts.
	s.Check(ctx, "li.wei", "000000")
	if _, err := s.Check(ctx, "li.wei", "482913"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{staff.ErrBadPIN, staff.ErrBadPIN, staff.ErrLocked} {
		if _, err := s.Check(ctx, "li.wei", "000000"); !errors.Is(err, want) {
			t.Errorf("wrong PIN %d: %v, want %v", i+1, err, want)
		}
	}
	if _, err := s.Check(ctx, "li.wei", "482913"); !errors.Is(err, staff.ErrLocked) {
		t.Errorf("right PIN when locked: %v", err)
	}
	ps, _ := s.List(ctx)
	if len(ps) != 1 || !ps[0].Locked || ps[0].Failures != 3 {
		t.Errorf("list after lock-out: %+v", ps)
	}
	if err := s.Reset(ctx, "li.wei", "592014"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(ctx, "li.wei", "482913"); !errors.Is(err, staff.ErrBadPIN) {
		t.Errorf("old PIN after reset: %v", err)
	}
	if _, err := s.Check(ctx, "li.wei", "592014"); err != nil {
		t.Errorf("new PIN after reset: %v", err)
	}
	if err := s.Reset(ctx, "nobody", "592014"); !errors.Is(err, staff.ErrUnknown) {
		t.Errorf("reset of nobody: %v", err)
	}
	if err := s.Remove(ctx, "li.wei"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(ctx, "li.wei", "592014"); !errors.Is(err, staff.ErrBadPIN) {
		t.Errorf("removed account: %v", err)
	}
}
