package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/internal/browsertest"
	"github.com/guichet/guichet/internal/daemon"
	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/tamper"
)

const technicianID, technicianPIN = "zhao.min", "615204"

// TestTamperRoutes: while the tamper switch's lock holds, the day page's
// refund is refused with 423 and a clear message; clearing takes a
// technician's PIN through the guard (a supervisor's is refused, another
// page's request too), and then the void goes through.
func TestTamperRoutes(t *testing.T) {
	ctx := context.Background()
	r := newAPIRig(t)
	if err := r.staff.Add(ctx, technicianID, "赵敏", staff.Technician, technicianPIN); err != nil {
		t.Fatal(err)
	}
	al, err := audit.Open(ctx, r.ob, nil)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := tamper.Open(ctx, tamper.Config{Store: r.ob, Audit: al, Staff: r.staff})
	if err != nil {
		t.Fatal(err)
	}
	r.srv.Tamper, r.co.Lock = sw, sw.Check
	r.http.Close()
	r.http = httptest.NewServer(r.srv.Handler()) // the routes are made with the handler
	t.Cleanup(r.http.Close)
	tok := r.signIn(t, cashierID, cashierPIN)
	code, body := r.do(t, req{method: "POST", path: "/api/pay", ctype: "application/json", cookie: tok, body: `{"amount":"5.00","code":"134567890123456780"}`})
	var p struct{ ID string }
	if code != 200 || json.Unmarshal([]byte(body), &p) != nil {
		t.Fatalf("pay: %d %s", code, body)
	}
	if err := sw.Changed(ctx, true); err != nil {
		t.Fatal(err)
	}
	// The state is public, for the status page.
	code, body = r.do(t, req{method: "GET", path: "/api/tamper"})
	if code != 200 || !strings.Contains(body, `"locked":true`) {
		t.Fatalf("GET /api/tamper: %d %s", code, body)
	}
	refund := req{method: "POST", path: "/api/payments/" + p.ID + "/refund", ctype: "application/json", cookie: tok,
		body: `{"amount":"1.00","supervisor":"` + supervisorID + `","supervisor_pin":"` + supervisorPIN + `"}`}
	if code, body := r.do(t, refund); code != 423 || !strings.Contains(body, "the till is locked after the tamper switch opened: a technician must clear it") {
		t.Fatalf("refund while locked: %d %s", code, body)
	}
	void := req{method: "POST", path: "/api/payments/" + p.ID + "/void", ctype: "application/json", cookie: tok,
		body: `{"supervisor":"` + supervisorID + `","supervisor_pin":"` + supervisorPIN + `"}`}
	if code, body := r.do(t, void); code != 423 {
		t.Fatalf("void while locked: %d %s", code, body)
	}
	clearReq := func(id, pin string) req {
		return req{method: "POST", path: "/api/tamper/clear", ctype: "application/json", body: `{"technician":"` + id + `","pin":"` + pin + `"}`}
	}
	for _, c := range []struct {
		name string
		q    req
		want int
	}{
		{"a supervisor's PIN", clearReq(supervisorID, supervisorPIN), 403},
		{"a cashier's PIN", clearReq(cashierID, cashierPIN), 403},
		{"a wrong PIN", clearReq(technicianID, "000000"), 401},
		{"another page", func() req {
			q := clearReq(technicianID, technicianPIN)
			q.header = map[string]string{"Origin": "http://evil.example"}
			return q
		}(), 403},
		{"a form", func() req { q := clearReq(technicianID, technicianPIN); q.ctype = "text/plain"; return q }(), 415},
		{"a rebinding name", func() req { q := clearReq(technicianID, technicianPIN); q.host = "evil.example"; return q }(), 421},
	} {
		if code, body := r.do(t, c.q); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
		if sw.Check() == nil {
			t.Fatalf("%s cleared the lock", c.name)
		}
	}
	// A supervisor cannot give the technician's account a PIN of their
	// own at the till, and clear with it.
	if code, body := r.do(t, req{method: "POST", path: "/api/staff/" + technicianID + "/pin", ctype: "application/json", cookie: tok,
		body: `{"pin":"999111","supervisor":"` + supervisorID + `","supervisor_pin":"` + supervisorPIN + `"}`}); code != 403 {
		t.Fatalf("supervisor resets the technician's PIN: %d %s", code, body)
	}
	if code, body := r.do(t, clearReq(technicianID, technicianPIN)); code != 200 || !strings.Contains(body, `"cleared_by":"`+technicianID+`"`) {
		t.Fatalf("clear: %d %s", code, body)
	}
	if code, body := r.do(t, clearReq(technicianID, technicianPIN)); code != 409 {
		t.Fatalf("clear again: %d %s", code, body)
	}
	// The payment was approved offline: a void, not a refund, now.
	if code, body := r.do(t, void); code != 200 {
		t.Fatalf("void after clearing: %d %s", code, body)
	}
}

// TestTamperOnStatusPage: the status page shows the tamper lock as a
// banner in the three languages, and drops it once a technician clears
// it (-screens writes status-tamper-LANG.png).
func TestTamperOnStatusPage(t *testing.T) {
	ctx := context.Background()
	r, sw := newTamperedRig(t)
	b := browsertest.Start(t)
	// The status page is the till's: the cashier signs in first.
	p := open(t, b, r.http.URL+"/signin.html?next=/status.html")
	p.run("sign in", clear("cashier"), chromedp.SendKeys("#cashier", cashierID, chromedp.ByID),
		clear("pin"), chromedp.SendKeys("#pin", cashierPIN, chromedp.ByID), chromedp.Click("#signin-submit", chromedp.ByID),
		chromedp.WaitReady("#tamper-banner", chromedp.ByID))
	want := map[string]string{"zh": "防拆开关被触发，已锁定", "en": "Locked after the tamper switch opened", "fr": "Verrouillé après l'ouverture du boîtier"}
	short := map[string]string{"zh": "已锁定，等待技术员解除", "en": "Locked until a technician clears it", "fr": "Verrouillé jusqu'au déverrouillage par un technicien"}
	inLanguages(t, p, "status-tamper", func(lang string) string {
		return fmt.Sprintf(`(() => { const b = document.getElementById("tamper-banner"); return !b.hidden && b.textContent.startsWith(%q) &&
			document.getElementById("fact-tamper")?.textContent === %q; })()`, want[lang], short[lang])
	})
	if _, err := sw.Clear(ctx, technicianID, technicianPIN); err != nil {
		t.Fatal(err)
	}
	p.waitFor(`document.getElementById("tamper-banner").hidden && document.getElementById("fact-tamper").textContent === "Boîtier ouvert"`, 10*time.Second, "banner gone after clearing")
}

// newTamperedRig is the API rig with a technician's account and the tamper
// switch, opened once: the lock holds, and the status shows it.
func newTamperedRig(t *testing.T) (*apiRig, *tamper.Switch) {
	ctx := context.Background()
	r := newAPIRig(t)
	if err := r.staff.Add(ctx, technicianID, "赵敏", staff.Technician, technicianPIN); err != nil {
		t.Fatal(err)
	}
	sw, err := tamper.Open(ctx, tamper.Config{Store: r.ob, Staff: r.staff})
	if err != nil {
		t.Fatal(err)
	}
	r.srv.Tamper = sw
	r.srv.Status = func() any {
		return daemon.Status{Device: "till1", Tenant: "shop1", Hardware: "sim", Queue: r.ob.Stats(), Tamper: sw.State()}
	}
	r.http.Close()
	r.http = httptest.NewServer(r.srv.Handler())
	t.Cleanup(r.http.Close)
	if err := sw.Changed(ctx, true); err != nil {
		t.Fatal(err)
	}
	return r, sw
}
