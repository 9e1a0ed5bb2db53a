package ui_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout"
	displaysim "github.com/guichet/guichet/device/display/sim"
	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/ui"
)

// PINs of the tests' people.
const (
	cashierID, cashierPIN       = "li.wei", "482913"
	supervisorID, supervisorPIN = "chen.jing", "739201"
)

// apiRig is the UI's handler over a real store, without a platform: a
// payment is approved offline, and the test answers for the platform.
type apiRig struct {
	ob    *outbox.Store
	co    *checkout.Service
	staff *staff.Staff
	srv   *ui.Server
	http  *httptest.Server

	mu  sync.Mutex
	now time.Time
}

func newAPIRig(t *testing.T) *apiRig {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Identity{Tenant: "shop1", Device: "till1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	r := &apiRig{ob: ob, now: time.Now()}
	r.co = &checkout.Service{Store: ob, Currency: "CNY", WaitOnline: 20 * time.Millisecond,
		OfflinePerTransaction: checkout.MaxAmount, OfflineTotal: checkout.MaxAmount, Log: slog.New(slog.DiscardHandler)}
	r.staff = seedStaff(t, ob)
	r.srv = &ui.Server{Checkout: r.co, Till: r.co, Currency: "CNY", Screen: displaysim.New(), Scans: ui.NewScans(),
		SyncNow: func() {}, Status: func() any { return map[string]string{"device": "till1"} },
		Languages: []string{"zh", "en", "fr"}, Log: slog.New(slog.DiscardHandler),
		Staff: r.staff, IdleSignOut: 10 * time.Minute, Clock: r.clock}
	r.http = httptest.NewServer(r.srv.Handler())
	t.Cleanup(r.http.Close)
	return r
}

// seedStaff enrols a cashier and a supervisor, with a cheap hash and a
// lock-out after three wrong PINs.
func seedStaff(t testing.TB, st staff.Store) *staff.Staff {
	t.Helper()
	s := &staff.Staff{Store: st, Iterations: 1000, LockAfter: 3}
	ctx := context.Background()
	if err := s.Add(ctx, cashierID, "李伟", staff.Cashier, cashierPIN); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, supervisorID, "陈静", staff.Supervisor, supervisorPIN); err != nil {
		t.Fatal(err)
	}
	return s
}

func (r *apiRig) clock() time.Time { r.mu.Lock(); defer r.mu.Unlock(); return r.now }

func (r *apiRig) advance(d time.Duration) { r.mu.Lock(); r.now = r.now.Add(d); r.mu.Unlock() }

// req is one request as a page (or anyone) might send it.
type req struct {
	method, path string
	ctype        string
	body         string
	header       map[string]string
	host         string
	cookie       string
}

func (r *apiRig) do(t *testing.T, q req) (int, string) {
	t.Helper()
	hr, err := http.NewRequest(q.method, r.http.URL+q.path, strings.NewReader(q.body))
	if err != nil {
		t.Fatal(err)
	}
	if q.ctype != "" {
		hr.Header.Set("Content-Type", q.ctype)
	}
	for k, v := range q.header {
		hr.Header.Set(k, v)
	}
	if q.host != "" {
		hr.Host = q.host
	}
	if q.cookie != "" {
		hr.Header.Set("Cookie", "guichet_session="+q.cookie)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// signIn signs id in and returns the session cookie's value.
func (r *apiRig) signIn(t *testing.T, id, pin string) string {
	t.Helper()
	hr, _ := http.NewRequest("POST", r.http.URL+"/api/signin", strings.NewReader(`{"cashier":"`+id+`","pin":"`+pin+`"}`))
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "guichet_session" {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("session cookie %+v: want HttpOnly and SameSite=Strict", c)
			}
			return c.Value
		}
	}
	t.Fatalf("sign-in of %s: status %d, no session cookie", id, resp.StatusCode)
	return ""
}

// state is what the attacks must not change: the payments, their refunds
// and whether the day is closed.
func (r *apiRig) state(t *testing.T) string {
	t.Helper()
	ps, err := r.co.Recent(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.co.Report(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(struct {
		P []checkout.Payment
		C bool
	}{ps, rep.Closed})
	return string(b)
}

func multipartBody() (string, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("amount", "1.00")
	mw.WriteField("code", "134567890123456780")
	mw.Close()
	return mw.FormDataContentType(), b.String()
}

// TestHostilePage plays what a hostile page open in the kiosk browser, or
// a rebinding DNS name, can send: each is refused with its status and
// changes nothing.
func TestHostilePage(t *testing.T) {
	r := newAPIRig(t)
	ctx := context.Background()
	paid, err := r.co.Pay(ctx, 1000, "134567890123456780")
	if err != nil {
		t.Fatal(err)
	}
	r.co.OnResult(envelope.Result{Seq: paid.Seq, Key: paid.ID, Status: checkout.StatusApproved})
	tok := r.signIn(t, cashierID, cashierPIN)
	const js = "application/json"
	payBody := `{"amount":"1.00","code":"134567890123456780"}`
	mpType, mpBody := multipartBody()
	port := r.http.Listener.Addr().(*net.TCPAddr).Port
	evil := map[string]string{"Origin": "http://evil.example"}
	supOK := `"supervisor":"` + supervisorID + `","supervisor_pin":"` + supervisorPIN + `"`
	before := r.state(t)
	cases := []struct {
		name string
		req
		code int
	}{
		{"text/plain POST", req{method: "POST", path: "/api/pay", ctype: "text/plain", body: payBody, cookie: tok}, 415},
		{"form POST", req{method: "POST", path: "/api/pay", ctype: "application/x-www-form-urlencoded", body: "amount=1.00&code=134567890123456780", cookie: tok}, 415},
		{"multipart POST", req{method: "POST", path: "/api/pay", ctype: mpType, body: mpBody, cookie: tok}, 415},
		{"no content type", req{method: "POST", path: "/api/pay", body: payBody, cookie: tok}, 415},
		{"text/plain close day", req{method: "POST", path: "/api/day/close", ctype: "text/plain", body: "{" + supOK + "}", cookie: tok}, 415},
		{"rebinding Host, read", req{method: "GET", path: "/api/payments", host: "evil.example:" + itoa(port), cookie: tok}, 421},
		{"rebinding Host, pay", req{method: "POST", path: "/api/pay", ctype: js, body: payBody, host: "rebind.evil.example", cookie: tok}, 421},
		{"rebinding Host, page", req{method: "GET", path: "/index.html", host: "evil.example"}, 421},
		{"foreign Origin, pay", req{method: "POST", path: "/api/pay", ctype: js, body: payBody, header: evil, cookie: tok}, 403},
		{"foreign Origin, refund", req{method: "POST", path: "/api/payments/" + paid.ID + "/refund", ctype: js, body: `{"amount":"1.00",` + supOK + `}`, header: evil, cookie: tok}, 403},
		{"null Origin", req{method: "POST", path: "/api/pay", ctype: js, body: payBody, header: map[string]string{"Origin": "null"}, cookie: tok}, 403},
		{"other port on localhost", req{method: "POST", path: "/api/pay", ctype: js, body: payBody, header: map[string]string{"Origin": "http://127.0.0.1:1"}, cookie: tok}, 403},
		{"cross-site read of the scans", req{method: "GET", path: "/api/scans", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, cookie: tok}, 403},
		{"same-site read of the payments", req{method: "GET", path: "/api/payments", header: map[string]string{"Sec-Fetch-Site": "same-site"}, cookie: tok}, 403},
		{"foreign Origin, official sign-in", req{method: "POST", path: "/api/eid/signin", ctype: js, body: `{"official":"off-1","pin":"000000"}`, header: evil}, 403},
		{"form, official sign-in", req{method: "POST", path: "/api/eid/signin", ctype: "application/x-www-form-urlencoded", body: "official=off-1&pin=000000"}, 415},
		{"no session, pay", req{method: "POST", path: "/api/pay", ctype: js, body: payBody}, 401},
		{"no session, payments", req{method: "GET", path: "/api/payments"}, 401},
		{"no session, payment", req{method: "GET", path: "/api/payments/" + paid.ID}, 401},
		{"no session, scans", req{method: "GET", path: "/api/scans"}, 401},
		{"no session, report", req{method: "GET", path: "/api/report"}, 401},
		{"no session, sync", req{method: "POST", path: "/api/sync", ctype: js, body: "{}"}, 401},
		{"forged session", req{method: "POST", path: "/api/pay", ctype: js, body: payBody, cookie: strings.Repeat("a", 64)}, 401},
		{"bad cookie", req{method: "GET", path: "/api/payments", cookie: "../../x"}, 401},
		{"cashier's refund, no supervisor", req{method: "POST", path: "/api/payments/" + paid.ID + "/refund", ctype: js, body: `{"amount":"1.00"}`, cookie: tok}, 403},
		{"cashier's refund, own PIN", req{method: "POST", path: "/api/payments/" + paid.ID + "/refund", ctype: js, body: `{"amount":"1.00","supervisor":"` + cashierID + `","supervisor_pin":"` + cashierPIN + `"}`, cookie: tok}, 403},
		{"cashier's void, no supervisor", req{method: "POST", path: "/api/payments/" + paid.ID + "/void", ctype: js, body: `{}`, cookie: tok}, 403},
		{"cashier's void, empty body", req{method: "POST", path: "/api/payments/" + paid.ID + "/void", ctype: js, cookie: tok}, 400},
		{"cashier closes the day", req{method: "POST", path: "/api/day/close", ctype: js, body: `{}`, cookie: tok}, 403},
		{"supervisor's PIN wrong", req{method: "POST", path: "/api/day/close", ctype: js, body: `{"supervisor":"` + supervisorID + `","supervisor_pin":"000000"}`, cookie: tok}, 403},
		{"no session, PIN reset", req{method: "POST", path: "/api/staff/" + cashierID + "/pin", ctype: js, body: `{"pin":"111111",` + supOK + `}`}, 401},
		{"staff enrolment off the socket", req{method: "POST", path: "/api/staff", ctype: js, body: `{"id":"eve","name":"Eve","role":"supervisor","pin":"111111"}`, cookie: tok}, 405},
	}
	for _, c := range cases {
		code, body := r.do(t, c.req)
		if code != c.code {
			t.Errorf("%s: status %d, want %d (%s)", c.name, code, c.code, strings.TrimSpace(body))
		}
	}
	if after := r.state(t); after != before {
		t.Errorf("the attacks changed the store:\nbefore %s\nafter  %s", before, after)
	}
	if ps, _ := r.staff.List(ctx); len(ps) != 2 {
		t.Errorf("staff after the attacks: %+v", ps)
	}
	// The wrong supervisor PIN above counted: one of three.
	if ps, _ := r.staff.List(ctx); ps[0].ID != supervisorID || ps[0].Failures != 1 {
		t.Errorf("supervisor after one wrong PIN: %+v", ps[0])
	}
	// The same requests from the appliance's own page go through: the
	// refusals above were for the reasons named.
	own := map[string]string{"Origin": r.http.URL, "Sec-Fetch-Site": "same-origin"}
	for _, c := range []req{
		{method: "GET", path: "/api/payments", header: own, cookie: tok},
		{method: "GET", path: "/api/payments", host: "localhost:" + itoa(port), cookie: tok},
		{method: "POST", path: "/api/payments/" + paid.ID + "/refund", ctype: "application/json; charset=utf-8", body: `{"amount":"1.00",` + supOK + `}`, header: own, cookie: tok},
	} {
		if code, body := r.do(t, c); code != 200 {
			t.Errorf("own page %s %s: status %d (%s)", c.method, c.path, code, body)
		}
	}
	p, _ := r.co.Get(ctx, paid.ID)
	if len(p.Refunds) != 1 || p.Refunds[0].By == nil || *p.Refunds[0].By != (checkout.Operator{Cashier: cashierID, Supervisor: supervisorID}) {
		t.Errorf("refund's operator: %+v", p.Refunds)
	}
	// The customer's screen and the status need no session, and read only.
	for _, p := range []string{"/api/config", "/api/status", "/customer.html"} {
		if code, _ := r.do(t, req{method: "GET", path: p}); code != 200 {
			t.Errorf("GET %s without a session: %d", p, code)
		}
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// Wrong PINs lock a cashier out, and a hostile page cannot add to the
// count: its sign-ins are refused before the PIN is checked.
func TestSignInLockOut(t *testing.T) {
	r := newAPIRig(t)
	signin := func(pin string, h map[string]string, ctype string) int {
		code, _ := r.do(t, req{method: "POST", path: "/api/signin", ctype: ctype, body: `{"cashier":"` + cashierID + `","pin":"` + pin + `"}`, header: h})
		return code
	}
	for i := 0; i < 10; i++ {
		if c := signin("000000", map[string]string{"Origin": "http://evil.example"}, "application/json"); c != 403 {
			t.Fatalf("foreign sign-in: %d", c)
		}
		if c := signin("000000", nil, "text/plain"); c != 415 {
			t.Fatalf("text/plain sign-in: %d", c)
		}
	}
	if c := signin(cashierPIN, nil, "application/json"); c != 200 {
		t.Fatalf("the cashier was locked out by another page: %d", c)
	}
	for i, want := range []int{401, 401, 423, 423} {
		if c := signin("000000", nil, "application/json"); c != want {
			t.Errorf("wrong PIN %d: %d, want %d", i+1, c, want)
		}
	}
	if c := signin(cashierPIN, nil, "application/json"); c != 423 {
		t.Errorf("right PIN when locked: %d", c)
	}
	// A supervisor resets the PIN at the till.
	tok := r.signIn(t, supervisorID, supervisorPIN)
	code, body := r.do(t, req{method: "POST", path: "/api/staff/" + cashierID + "/pin", ctype: "application/json", cookie: tok,
		body: `{"pin":"592014","supervisor":"` + supervisorID + `","supervisor_pin":"` + supervisorPIN + `"}`})
	if code != 200 {
		t.Fatalf("reset: %d %s", code, body)
	}
	if c := signin("592014", nil, "application/json"); c != 200 {
		t.Errorf("new PIN after reset: %d", c)
	}
}

// A session ends after IdleSignOut without a request, and at sign-out.
func TestIdleSignOut(t *testing.T) {
	r := newAPIRig(t)
	tok := r.signIn(t, cashierID, cashierPIN)
	get := func() int { c, _ := r.do(t, req{method: "GET", path: "/api/payments", cookie: tok}); return c }
	if c := get(); c != 200 {
		t.Fatalf("signed in: %d", c)
	}
	// What the cashier does renews the session; the page's polls (GET)
	// do not, or an unattended till would stay signed in.
	r.advance(9 * time.Minute)
	if c, _ := r.do(t, req{method: "POST", path: "/api/sync", ctype: "application/json", body: "{}", cookie: tok}); c != 202 {
		t.Fatalf("action after 9 min: %d", c)
	}
	r.advance(9 * time.Minute)
	if c := get(); c != 200 {
		t.Fatalf("9 min after the last action: %d", c)
	}
	r.advance(2 * time.Minute)
	if c := get(); c != 401 {
		t.Errorf("10 min after the last action, polled all along: %d, want 401", c)
	}
	tok = r.signIn(t, cashierID, cashierPIN)
	if code, body := r.do(t, req{method: "GET", path: "/api/session", cookie: tok}); code != 200 || !strings.Contains(body, `"name":"李伟"`) {
		t.Errorf("session: %d %s", code, body)
	}
	if c, _ := r.do(t, req{method: "POST", path: "/api/signout", ctype: "application/json", cookie: tok}); c != 200 {
		t.Fatalf("sign-out: %d", c)
	}
	if c := get(); c != 401 {
		t.Errorf("after sign-out: %d, want 401", c)
	}
}

// On the Unix socket the caller needs no session and is recorded by its
// user; refunds still need a supervisor.
func TestSocket(t *testing.T) {
	r := newAPIRig(t)
	path := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.srv.ServeLocal(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	post := func(p, body string) (int, string) {
		resp, err := c.Post("http://guichet"+p, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post("/api/pay", `{"amount":"2.00","code":"134567890123456780"}`)
	var p checkout.Payment
	if code != 200 || json.Unmarshal([]byte(body), &p) != nil || !strings.HasPrefix(p.Operator, "local:") {
		t.Fatalf("pay over the socket: %d %s", code, body)
	}
	if code, _ := post("/api/payments/"+p.ID+"/void", `{}`); code != 403 {
		t.Errorf("void without supervisor over the socket: %d", code)
	}
	if code, body := post("/api/payments/"+p.ID+"/void", `{"supervisor":"`+supervisorID+`","supervisor_pin":"`+supervisorPIN+`"}`); code != 200 {
		t.Errorf("void with supervisor: %d %s", code, body)
	}
	if code, body := post("/api/staff", `{"id":"wang.fang","name":"王芳","role":"cashier","pin":"305718"}`); code != 200 {
		t.Errorf("add over the socket: %d %s", code, body)
	}
	resp, err := c.Post("http://guichet/api/pay", "text/plain", strings.NewReader(`{"amount":"2.00","code":"134567890123456780"}`))
	if err != nil || resp.StatusCode != 415 {
		t.Errorf("text/plain over the socket: %v %v", resp.StatusCode, err)
	}
}

// FuzzGuard checks the Host and Origin checks on any header values: they
// never panic, and never let a DNS name other than localhost in.
func FuzzGuard(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8080", "localhost", "[::1]:80", "evil.example", "LOCALHOST:1", "::1", "[fe80::1%eth0]:80", "", "http://127.0.0.1:8080", "null"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, host, origin string) {
		if ui.AllowedHost(host, nil) {
			h := host
			if hh, _, err := net.SplitHostPort(host); err == nil {
				h = hh
			}
			h = strings.Trim(h, "[]")
			if net.ParseIP(h) == nil && !strings.EqualFold(h, "localhost") {
				t.Errorf("host %q allowed", host)
			}
		}
		if ui.SameOrigin(origin, host) && !strings.HasSuffix(strings.ToLower(origin), "//"+strings.ToLower(host)) {
			t.Errorf("origin %q taken as host %q's", origin, host)
		}
	})
}

// countingCounter is an e-ID counter that only counts sign-ins: wrong
// ones, as a hostile page would send them to lock an official out.
type countingCounter struct {
	ui.Counter
	mu      sync.Mutex
	signins int
}

func (c *countingCounter) SignIn(context.Context, string, string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.signins++
	return "", errors.New("counter: wrong official id or PIN")
}

// Another page cannot lock an official out: its sign-ins never reach the
// counter's PIN check, while the official's own page does.
func TestOfficialNotLockedOutByAnotherPage(t *testing.T) {
	cc := &countingCounter{}
	srv := httptest.NewServer((&ui.Server{Counter: cc, Log: slog.New(slog.DiscardHandler)}).Handler())
	defer srv.Close()
	body := `{"official":"off-1","pin":"000000"}`
	for _, h := range []map[string]string{
		{"Content-Type": "application/json", "Origin": "http://evil.example"},
		{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
		{"Content-Type": "text/plain"},
		{"Content-Type": "application/x-www-form-urlencoded"},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/api/eid/signin", strings.NewReader(body))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 && resp.StatusCode != 415 {
			t.Errorf("%v: status %d", h, resp.StatusCode)
		}
	}
	if cc.signins != 0 {
		t.Fatalf("%d hostile sign-ins reached the official's PIN check", cc.signins)
	}
	resp, err := http.Post(srv.URL+"/api/eid/signin", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc.signins != 1 || resp.StatusCode != http.StatusUnprocessableEntity && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the official's own page: %d sign-ins, status %d", cc.signins, resp.StatusCode)
	}
}
