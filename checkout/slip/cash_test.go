package slip

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/device/printer/escpos"
	"github.com/guichet/guichet/internal/escposemu"
)

// TestCashSaleAtTheWire takes a cash sale and a cash refund with the
// drawer on an ESC/POS printer's kick connector, the printer being the
// emulator on a pseudo-terminal: each opens the drawer with one ESC p
// pulse as configured, and the sale's receipt prints "cash" and no code.
func TestCashSaleAtTheWire(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := escposemu.New()
	pt, err := e.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	p, err := escpos.Open(ctx, escpos.Options{Port: pt.Path, Columns: 32,
		Drawer: escpos.DrawerOptions{Pin: 2, On: 60 * time.Millisecond, Off: 240 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s := newService(t)
	s.Drawer = p
	sale, err := s.PayCash(ctx, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Refund(ctx, sale.ID, 500); err != nil {
		t.Fatal(err)
	}
	st, err := e.Wait(ctx, func(s escposemu.State) bool { return len(s.Kicks) == 2 })
	if err != nil {
		t.Fatal(err)
	}
	want := escposemu.Kick{Pin: 2, On: 60 * time.Millisecond, Off: 240 * time.Millisecond}
	if st.Kicks[0] != want || st.Kicks[1] != want || len(st.Slips) != 0 || st.Err != nil {
		t.Fatalf("printer saw %+v", st)
	}
	sl := &Slips{Service: s, Printer: p, Head: Letterhead{Name: "小店", Lang: "zh"}}
	if err := sl.Print(ctx, sale.ID); err != nil {
		t.Fatal(err)
	}
	st, err = e.Wait(ctx, func(s escposemu.State) bool { return len(s.Slips) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	lines := st.Slips[0].Lines()
	for _, want := range []string{"支付方式                    现金", "合计 CNY   20.00", "已退款                     -5.00", "[QR " + sale.ID + "]"} {
		if !slices.Contains(lines, want) {
			t.Errorf("slip %q lacks %q", lines, want)
		}
	}
	for _, l := range lines {
		if len(l) >= 9 && l[:9] == "付款码" {
			t.Errorf("a cash slip prints a code line %q", l)
		}
	}
}

func TestFirstApproval(t *testing.T) {
	for _, c := range []struct {
		p    checkout.Payment
		want bool
	}{
		{checkout.Payment{Status: checkout.StatusApproved}, true},
		{checkout.Payment{Status: checkout.StatusApproved, Scheme: checkout.SchemeCash}, true},
		{checkout.Payment{Status: checkout.StatusApprovedOffline, Offline: true}, true},
		{checkout.Payment{Status: checkout.StatusApproved, Offline: true}, false}, // the platform confirmed an offline approval
		{checkout.Payment{Status: checkout.StatusQueued}, false},
		{checkout.Payment{Status: checkout.StatusUserPaying}, false},
		{checkout.Payment{Status: checkout.StatusDeclined}, false},
		{checkout.Payment{Status: checkout.StatusVoided}, false},
		{checkout.Payment{Status: checkout.StatusReversed}, false},
	} {
		if got := FirstApproval(c.p); got != c.want {
			t.Errorf("%s offline=%v: %v", c.p.Status, c.p.Offline, got)
		}
	}
}
