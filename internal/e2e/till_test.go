package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestRefundReceiptAndDayReport drives the rest of the cashier's day
// through the command line: a refund, a receipt, a void refused after a
// refund, and the end-of-day report.
func TestRefundReceiptAndDayReport(t *testing.T) {
	r := NewRig(t)
	r.StartPlatform()
	r.StartDaemon()
	r.Eventually(10*time.Second, "link up", func() bool { return r.Status().Link.Connected })
	p := r.Pay("20.00", goodCode)
	if p.Status != "approved" {
		t.Fatalf("payment %+v", p)
	}
	if _, errb, err := r.RunErr("guichet", "--config", r.DevConf, "refund", "--id", p.ID, "--amount", "25.00"); err == nil || !strings.Contains(errb, "refund") {
		t.Fatalf("refund above the amount paid: %v %q", err, errb)
	}
	r.Run("guichet", "--config", r.DevConf, "refund", "--id", p.ID, "--amount", "5.00")
	receipt := r.Run("guichet", "--config", r.DevConf, "receipt", "--id", p.ID)
	if !strings.Contains(receipt, "20.00") || strings.Contains(receipt, goodCode) || !strings.Contains(receipt, goodCode[len(goodCode)-4:]) {
		t.Fatalf("receipt (want the amount and only the code's last digits):\n%s", receipt)
	}
	if _, _, err := r.RunErr("guichet", "--config", r.DevConf, "void", "--id", p.ID); err == nil {
		t.Fatal("void accepted after a refund")
	}
	var rep map[string]any
	out := r.Run("guichet", "--config", r.DevConf, "report", "--json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report --json printed %q: %v", out, err)
	}
	if !strings.Contains(out, "1500") && !strings.Contains(out, "15.00") {
		t.Fatalf("report does not show the net 15.00 after the refund:\n%s", out)
	}
}
