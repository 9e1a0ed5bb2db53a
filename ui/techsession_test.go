package ui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/guichet/guichet/staff"
)

// TestTechnicianSession: the technician's screen takes a technician's
// credential only, the cashier's sign-in refuses a technician's, and a
// technician's session serves the technician's routes, not the till's.
func TestTechnicianSession(t *testing.T) {
	r := newAPIRig(t)
	if err := r.staff.Add(context.Background(), technicianID, "赵敏", staff.Technician, technicianPIN); err != nil {
		t.Fatal(err)
	}
	js := "application/json"
	techSignIn := func(id, pin string) (int, string) {
		hr, _ := http.NewRequest("POST", r.http.URL+"/api/tech/signin", strings.NewReader(`{"technician":"`+id+`","pin":"`+pin+`"}`))
		hr.Header.Set("Content-Type", js)
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for _, c := range resp.Cookies() {
			if c.Name == "guichet_session" {
				return resp.StatusCode, c.Value
			}
		}
		return resp.StatusCode, ""
	}
	if code, tok := techSignIn(cashierID, cashierPIN); code != 403 || tok != "" {
		t.Errorf("a cashier on the technician's sign-in: %d, cookie %q; want 403 and none", code, tok)
	}
	if code, tok := techSignIn(technicianID, "000000"); code != 401 || tok != "" {
		t.Errorf("a wrong PIN: %d, cookie %q; want 401 and none", code, tok)
	}
	if code, _ := r.do(t, req{method: "POST", path: "/api/signin", ctype: js, body: `{"cashier":"` + technicianID + `","pin":"` + technicianPIN + `"}`}); code != 403 {
		t.Errorf("a technician on the cashier's sign-in: %d, want 403", code)
	}
	code, tech := techSignIn(technicianID, technicianPIN)
	if code != 200 || tech == "" {
		t.Fatalf("technician sign-in: %d, cookie %q", code, tech)
	}
	cashier := r.signIn(t, cashierID, cashierPIN)
	for _, c := range []struct {
		name   string
		q      req
		status int
	}{
		{"technician pays", req{method: "POST", path: "/api/pay", ctype: js, body: `{"amount":"1.00","code":"x"}`, cookie: tech}, 403},
		{"technician lists payments", req{method: "GET", path: "/api/payments", cookie: tech}, 403},
		{"technician reads its session", req{method: "GET", path: "/api/session", cookie: tech}, 200},
		{"technician syncs", req{method: "POST", path: "/api/sync", ctype: js, body: `{}`, cookie: tech}, 202},
		{"cashier lists payments", req{method: "GET", path: "/api/payments", cookie: cashier}, 200},
	} {
		if got, body := r.do(t, c.q); got != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, got, body, c.status)
		}
	}
}
