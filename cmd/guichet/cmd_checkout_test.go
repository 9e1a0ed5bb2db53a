package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/guichet/guichet/checkout"
)

// fakeDaemon stands in for the daemon's local API and records the calls.
func fakeDaemon(t *testing.T) (cfgPath string, calls func() []string) {
	var mu sync.Mutex
	var got []string
	cfgPath = socketDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+strings.TrimSpace(string(b)))
		mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/refund") && strings.Contains(string(b), `"9.99"`):
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "refund of 9.99 is more than the 1.00 left to refund"})
		case strings.HasSuffix(r.URL.Path, "/receipt"):
			json.NewEncoder(w).Encode(checkout.Receipt{PaymentID: "pay-1", Scheme: "wechat_pay", Code: "**************6780", Currency: "CNY", Amount: 1111, Status: "approved"})
		case strings.HasPrefix(r.URL.Path, "/api/report") || r.URL.Path == "/api/day/close":
			json.NewEncoder(w).Encode(checkout.Report{Day: "2026-11-23", Currency: "CNY", Closed: r.Method == http.MethodPost,
				Schemes: []checkout.SchemeTotal{{Scheme: "alipay", Count: 2, Amount: 5000}}, Sales: 5000, Count: 2, OfflineDeclined: 300, OfflineDeclinedCount: 1,
				Wallet: 5000, WalletCount: 2, Cash: 1200, CashCount: 1, CashRefunds: 200, CashDrawer: 1000,
				QR: &checkout.QRTotals{Paid: 1234, PaidCount: 1, Ended: []checkout.QRLine{{Ref: "Q19abc", Amount: 500, Status: checkout.QRExpired}}}})
		default:
			w.Write([]byte(`{"id":"pay-1","status":"voided"}`))
		}
	}))
	return cfgPath, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }
}

func TestCheckoutSubcommands(t *testing.T) {
	cfg, calls := fakeDaemon(t)
	cases := []struct {
		args []string
		code int
		out  string
		call string
	}{
		// The supervisor's PIN comes from standard input (below).
		{[]string{"refund", "--id", "pay-1", "--amount", "1.00", "--supervisor", "chen.jing"}, 0, "voided", `POST /api/payments/pay-1/refund {"supervisor":"chen.jing","supervisor_pin":"739201","amount":"1.00"}`},
		{[]string{"refund", "--id", "pay-1", "--amount", "9.99", "--supervisor", "chen.jing"}, 1, "", ""},
		{[]string{"refund", "--id", "pay-1", "--amount", "-1", "--supervisor", "chen.jing"}, 2, "", ""},
		{[]string{"refund", "--id", "pay-1", "--supervisor", "chen.jing"}, 2, "", ""},
		{[]string{"refund", "--id", "pay-1", "--amount", "1.00"}, 2, "", ""},
		{[]string{"void", "--id", "pay-1", "--supervisor", "chen.jing"}, 0, "voided", `POST /api/payments/pay-1/void {"supervisor":"chen.jing","supervisor_pin":"739201"}`},
		{[]string{"void", "--id", "pay-1"}, 2, "", ""},
		{[]string{"void"}, 2, "", ""},
		{[]string{"receipt", "--id", "pay-1"}, 0, "**************6780", "GET /api/payments/pay-1/receipt "},
		{[]string{"receipt", "--id", "pay-1", "--print"}, 0, "", "POST /api/payments/pay-1/print "},
		{[]string{"report", "--day", "2026-11-23"}, 0, "offline declined (loss) 3.00 (1)", "GET /api/report?day=2026-11-23 "},
		{[]string{"report", "--day", "yesterday"}, 2, "", ""},
		{[]string{"report"}, 0, "shop's QR codes: paid 12.34 (1), still open 0, unpaid 1\n  Q19abc                           5.00 expired", "GET /api/report "},
		{[]string{"close-day", "--supervisor", "chen.jing"}, 0, "(closed", `POST /api/day/close {"supervisor":"chen.jing","supervisor_pin":"739201"}`},
		{[]string{"close-day"}, 2, "", ""},
		{[]string{"report"}, 0, "wallets 50.00 (2), cash 12.00 (1), cash refunds 2.00, cash in the drawer 10.00", "GET /api/report "},
		{[]string{"pay", "--amount", "12.00", "--cash"}, 0, "voided", `POST /api/pay/cash {"amount":"12.00"}`},
		{[]string{"pay", "--amount", "12.00", "--cash", "--code", "134567890123456780"}, 2, "", ""},
		{[]string{"pay", "--amount", "12.00"}, 2, "", ""},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		stdin = strings.NewReader("739201\n")
		n := len(calls())
		code := run(append([]string{"--config", cfg}, c.args...), &out, &errb)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %s)", c.args, code, c.code, errb.String())
			continue
		}
		if !strings.Contains(out.String(), c.out) {
			t.Errorf("%v: output %q lacks %q", c.args, out.String(), c.out)
		}
		if c.call != "" {
			got := calls()
			if len(got) != n+1 || got[n] != c.call {
				t.Errorf("%v: daemon calls %q, want %q", c.args, got[n:], c.call)
			}
		}
	}
	if s := strings.Join(calls(), "\n"); strings.Contains(s, `"-1"`) {
		t.Errorf("a usage error reached the daemon:\n%s", s)
	}
}
