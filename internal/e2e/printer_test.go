package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/escposemu"
)

// TestReceiptPrintedOnPaper takes a payment, then prints its receipt with
// `guichet receipt --print`: through the daemon's API, the checkout's
// slips and the escpos driver to the printer emulator on a
// pseudo-terminal, configured as the daemon's printer with a Chinese
// letterhead.
func TestReceiptPrintedOnPaper(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := escposemu.New()
	pt, err := e.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	r := NewRig(t)
	b, err := os.ReadFile(r.DevConf)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(b), "checkout: {wait_online: 3s}",
		"checkout: {wait_online: 3s, receipt: {name: 老王面馆, address: [北京市东城区东四北大街 107 号], lang: zh}}", 1)
	conf += "devices: {printer: {driver: escpos, options: {port: " + pt.Path + ", status: true}}}\n"
	write(t, r.DevConf, conf)
	r.StartPlatform()
	r.StartDaemon()
	r.Eventually(10*time.Second, "link up", func() bool { return r.Status().Link.Connected })
	p := r.Pay("12.34", goodCode)
	if p.Status != "approved" {
		t.Fatalf("payment %+v", p)
	}
	r.Run("guichet", "--config", r.DevConf, "receipt", "--id", p.ID, "--print")
	s, err := e.Wait(ctx, func(s escposemu.State) bool { return len(s.Slips) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(s.Slips[0].Lines(), "\n")
	for _, want := range []string{"老王面馆\n北京市东城区东四北大街 107 号\n", "**************6780", "合计 CNY           12.34", "已批准", "[QR " + p.ID + "]"} {
		if !strings.Contains(got, want) {
			t.Errorf("slip\n%s\nlacks %q", got, want)
		}
	}
	// An unknown payment prints nothing and says so.
	if _, _, err := r.RunErr("guichet", "--config", r.DevConf, "receipt", "--id", "pay-none", "--print"); err == nil {
		t.Fatal("printed the receipt of an unknown payment")
	}
}
