package checkout_test

import (
	"context"
	"testing"
)

// TestRigCashReachesThePlatform: a cash sale, its refund and another's
// void are applied by the platform as records of their own, with keys
// derived from the payment ids, and the outbox drains.
func TestRigCashReachesThePlatform(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	sale, err := r.s.PayCash(ctx, 3000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.Refund(ctx, sale.ID, 1000); err != nil {
		t.Fatal(err)
	}
	other, err := r.s.PayCash(ctx, 800)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.Void(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "cash records applied", func() bool {
		a := r.applied(t)
		return a[sale.ID] == "applied" && a[sale.ID+":refund:1"] == "applied" && a[other.ID] == "applied" && a[other.ID+":void"] == "applied"
	})
	eventually(t, "outbox drained", func() bool { return r.ob.Stats().Depth == 0 })
	// The platform's "applied" changes nothing on the till.
	if got := r.status(t, sale.ID); got != "approved" {
		t.Fatalf("sale %s", got)
	}
	if got := r.status(t, other.ID); got != "voided" {
		t.Fatalf("void %s", got)
	}
	rep, err := r.s.Report(ctx, "")
	if err != nil || rep.Cash != 3000 || rep.CashRefunds != 1000 || rep.CashDrawer != 2000 || rep.Voids != 800 {
		t.Fatalf("report %+v %v", rep, err)
	}
}
