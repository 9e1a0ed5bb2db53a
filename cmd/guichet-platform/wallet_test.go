package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/brokertest"
)

// TestWalletPay: `wallet pay REF` pays the till's QR order through the
// running platform's store and the till learns it from the signed
// qr_paid; a second time takes nothing more; an unknown or cancelled
// order is refused.
func TestWalletPay(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	conf, pub := platformConf(t, b.URL())
	cfg, err := config.LoadPlatform(conf)
	if err != nil {
		t.Fatal(err)
	}
	d := startDevice(t, conf, b.URL(), pub, "shop-1", "till-1")
	d.s.QRMerchant = checkout.Merchant{Name: "GUICHET TEST", City: "NANNING", MCC: "5411", Country: "CN", AccountGUI: "com.example.guichet", AccountID: "M1"}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := serve(ctx, cfg, io.Discard); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })

	order := func(amount int64) *checkout.QROrder {
		t.Helper()
		o, err := d.s.StartQR(ctx, amount)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the platform has "+o.Ref, func() bool {
			got, err := d.s.GetQR(ctx, o.Ref)
			return err == nil && got.Status == checkout.QRSent
		})
		return o
	}
	o := order(1234)
	out, errb, code := runCmd("--config", conf, "wallet", "pay", o.Ref)
	if code != 0 || !strings.Contains(out, "paid "+o.Ref+" 12.34 CNY for shop-1/till-1; till notified: applied") {
		t.Fatalf("wallet pay: exit %d: %s%s", code, out, errb)
	}
	if got, _ := d.s.GetQR(ctx, o.Ref); got.Status != checkout.QRPaid {
		t.Fatalf("the till's order after wallet pay: %+v", got)
	}
	out, errb, code = runCmd("--config", conf, "wallet", "pay", o.Ref, "--json")
	var r walletResult
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || !r.Again || r.Notified != "applied" || r.Amount != 1234 {
		t.Fatalf("wallet pay again: exit %d: %s%s", code, out, errb)
	}

	c := order(500)
	if _, err := d.s.CancelQR(ctx, c.Ref); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the platform has the cancel", func() bool {
		got, err := d.s.GetQR(ctx, c.Ref)
		return err == nil && got.Closed
	})
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"wallet", "pay", c.Ref}, 1, "QR order cancelled"},
		{[]string{"wallet", "pay", "Qnosuchorder"}, 1, "no such QR order"},
		{[]string{"wallet", "pay"}, 2, "give the order's reference"},
		{[]string{"wallet", "pay", strings.Repeat("Q", 26)}, 2, "at most 25"},
		{[]string{"wallet"}, 2, "wallet pay REF"},
		{[]string{"wallet", "refund", "Q1"}, 2, "wallet pay REF"},
		{[]string{"wallet", "pay", "Q1", "Q2"}, 2, "unexpected argument"},
		{[]string{"wallet", "pay", "Q1", "--wait-timeout", "0s"}, 2, "--wait-timeout"},
	} {
		_, errb, code := runCmd(append([]string{"--config", conf}, tc.args...)...)
		if code != tc.code || !strings.Contains(errb, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d, %q", tc.args, code, errb, tc.code, tc.want)
		}
	}
	if got, _ := d.s.GetQR(ctx, c.Ref); got.Status != checkout.QRCancelled {
		t.Fatalf("the cancelled order after a refused payment: %+v", got)
	}
}
