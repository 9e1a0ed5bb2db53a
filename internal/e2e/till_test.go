package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout/emv"
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
	// A refund and a void need a supervisor's PIN, on the command line too.
	pin := filepath.Join(r.Dir, "supervisor.pin")
	write(t, pin, "739201\n")
	r.Run("guichet", "--config", r.DevConf, "cashier", "add", "--id", "chen.jing", "--name", "Chen Jing", "--role", "supervisor", "--pin-file", pin)
	sup := []string{"--supervisor", "chen.jing", "--pin-file", pin}
	if _, errb, err := r.RunErr("guichet", "--config", r.DevConf, "refund", "--id", p.ID, "--amount", "5.00"); err == nil || !strings.Contains(errb, "--supervisor") {
		t.Fatalf("refund without a supervisor: %v %q", err, errb)
	}
	if _, errb, err := r.RunErr("guichet", append([]string{"--config", r.DevConf, "refund", "--id", p.ID, "--amount", "25.00"}, sup...)...); err == nil || !strings.Contains(errb, "refund") {
		t.Fatalf("refund above the amount paid: %v %q", err, errb)
	}
	r.Run("guichet", append([]string{"--config", r.DevConf, "refund", "--id", p.ID, "--amount", "5.00"}, sup...)...)
	receipt := r.Run("guichet", "--config", r.DevConf, "receipt", "--id", p.ID)
	if !strings.Contains(receipt, "20.00") || strings.Contains(receipt, goodCode) || !strings.Contains(receipt, goodCode[len(goodCode)-4:]) {
		t.Fatalf("receipt (want the amount and only the code's last digits):\n%s", receipt)
	}
	if _, _, err := r.RunErr("guichet", append([]string{"--config", r.DevConf, "void", "--id", p.ID}, sup...)...); err == nil {
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

// TestMerchantQRShownToTheCustomer asks for the shop's dynamic QR code and
// checks the customer screen's image decodes to a valid EMV payload with
// the amount.
func TestMerchantQRShownToTheCustomer(t *testing.T) {
	r := NewRig(t)
	r.StartDaemon()
	base := fmt.Sprintf("http://127.0.0.1:%d", r.UIPort)
	// Without a session the page is refused; the socket is trusted.
	if resp, err := http.Post(base+"/api/qr", "application/json", strings.NewReader(`{"amount":"12.34"}`)); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("QR without a session: %v %v", resp, err)
	}
	resp, err := r.Local().Post(LocalURL("/api/qr"), "application/json", strings.NewReader(`{"amount":"12.34"}`))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Payload string }
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	p, err := emv.Parse(out.Payload)
	if err != nil || p.Amount != "12.34" || p.Initiation != "12" {
		t.Fatalf("payload %q: %+v %v", out.Payload, p, err)
	}
	img, err := http.Get(base + "/api/display/qr.png")
	if err != nil || img.StatusCode != 200 {
		t.Fatalf("customer QR image: %v %v", img.Status, err)
	}
	defer img.Body.Close()
	png := filepath.Join(r.Dir, "qr.png")
	f, _ := os.Create(png)
	io.Copy(f, img.Body)
	f.Close()
	dec := r.Run("guichet", "decode", "--json", png)
	if !strings.Contains(dec, out.Payload[:20]) {
		t.Fatalf("the customer screen's QR decodes to %s, want %s", dec, out.Payload)
	}
	if resp, _ := r.Local().Post(LocalURL("/api/qr"), "application/json", strings.NewReader(`{"amount":"-1"}`)); resp == nil || resp.StatusCode != 400 {
		t.Fatal("bad amount not refused with 400")
	}
}
