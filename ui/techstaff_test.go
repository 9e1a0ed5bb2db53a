package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/eid/counter"
	"github.com/guichet/guichet/staff"
)

// techCookie signs id in on the technician's sign-in and returns the
// session cookie's value.
func (r *apiRig) techCookie(t *testing.T, id, pin string) string {
	t.Helper()
	hr, _ := http.NewRequest("POST", r.http.URL+"/api/tech/signin", strings.NewReader(`{"technician":"`+id+`","pin":"`+pin+`"}`))
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "guichet_session" {
			return c.Value
		}
	}
	t.Fatalf("technician sign-in of %s: %d, no cookie", id, resp.StatusCode)
	return ""
}

// TestTechStaffWhoMayCall: the accounts' routes of the technician's screen
// serve a technician's session and the socket, and nobody else; a
// technician's session cannot create, reset or remove a technician's
// account; hostile bodies get a clear 4xx; every change is audited.
func TestTechStaffWhoMayCall(t *testing.T) {
	r := newAPIRig(t)
	ctx := context.Background()
	if err := r.staff.Add(ctx, technicianID, "赵敏", staff.Technician, technicianPIN); err != nil {
		t.Fatal(err)
	}
	al, err := audit.Open(ctx, r.ob, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.srv.Audit = al
	// A fresh handler, built after Audit is set.
	r.http = httptest.NewServer(r.srv.Handler())
	t.Cleanup(r.http.Close)
	sock := httptest.NewServer(r.srv.LocalHandler())
	t.Cleanup(sock.Close)

	tech := r.techCookie(t, technicianID, technicianPIN)
	cashier := r.signIn(t, cashierID, cashierPIN)
	super := r.signIn(t, supervisorID, supervisorPIN)
	js := "application/json"
	add := func(id, role string) string {
		return `{"id":"` + id + `","name":"王芳","role":"` + role + `","pin":"520731"}`
	}

	// Who may call what.
	for _, c := range []struct {
		name string
		q    req
		want int
	}{
		{"no session lists", req{method: "GET", path: "/api/tech/staff"}, 401},
		{"cashier lists", req{method: "GET", path: "/api/tech/staff", cookie: cashier}, 403},
		{"supervisor lists", req{method: "GET", path: "/api/tech/staff", cookie: super}, 403},
		{"technician lists", req{method: "GET", path: "/api/tech/staff", cookie: tech}, 200},
		{"no session enrols", req{method: "POST", path: "/api/tech/staff", ctype: js, body: add("wang.fang", "cashier")}, 401},
		{"cashier enrols", req{method: "POST", path: "/api/tech/staff", ctype: js, body: add("wang.fang", "cashier"), cookie: cashier}, 403},
		{"supervisor enrols", req{method: "POST", path: "/api/tech/staff", ctype: js, body: add("wang.fang", "cashier"), cookie: super}, 403},
		{"supervisor resets on the technician's route", req{method: "POST", path: "/api/tech/staff/" + cashierID + "/pin", ctype: js, body: `{"pin":"111222"}`, cookie: super}, 403},
		{"cashier removes", req{method: "DELETE", path: "/api/tech/staff/" + supervisorID, ctype: js, cookie: cashier}, 403},
		{"technician enrols a cashier", req{method: "POST", path: "/api/tech/staff", ctype: js, body: add("wang.fang", "cashier"), cookie: tech}, 200},
		{"technician enrols a supervisor", req{method: "POST", path: "/api/tech/staff", ctype: js, body: add("liu.yang", "supervisor"), cookie: tech}, 200},
		{"the same id again", req{method: "POST", path: "/api/tech/staff", ctype: js, body: add("wang.fang", "cashier"), cookie: tech}, 409},
		{"technician enrols a technician", req{method: "POST", path: "/api/tech/staff", ctype: js, body: add("sun.li", "technician"), cookie: tech}, 403},
		{"technician resets a technician", req{method: "POST", path: "/api/tech/staff/" + technicianID + "/pin", ctype: js, body: `{"pin":"999888"}`, cookie: tech}, 403},
		{"technician removes a technician", req{method: "DELETE", path: "/api/tech/staff/" + technicianID, ctype: js, cookie: tech}, 403},
		{"technician resets a cashier", req{method: "POST", path: "/api/tech/staff/" + cashierID + "/pin", ctype: js, body: `{"pin":"246813"}`, cookie: tech}, 200},
		{"technician resets nobody", req{method: "POST", path: "/api/tech/staff/nobody/pin", ctype: js, body: `{"pin":"246813"}`, cookie: tech}, 404},
		{"technician removes a supervisor", req{method: "DELETE", path: "/api/tech/staff/liu.yang", ctype: js, cookie: tech}, 200},
		// Hostile bodies.
		{"bad JSON", req{method: "POST", path: "/api/tech/staff", ctype: js, body: `{"id":`, cookie: tech}, 400},
		{"unknown role", req{method: "POST", path: "/api/tech/staff", ctype: js, body: add("zhou.jie", "admin"), cookie: tech}, 400},
		{"generic id", req{method: "POST", path: "/api/tech/staff", ctype: js, body: add("cashier", "cashier"), cookie: tech}, 400},
		{"weak PIN", req{method: "POST", path: "/api/tech/staff", ctype: js, body: `{"id":"zhou.jie","name":"周杰","role":"cashier","pin":"12"}`, cookie: tech}, 400},
		{"huge id", req{method: "POST", path: "/api/tech/staff", ctype: js, body: add(strings.Repeat("a", 5000), "cashier"), cookie: tech}, 400},
		{"huge body", req{method: "POST", path: "/api/tech/staff", ctype: js, body: `{"id":"zhou.jie","name":"` + strings.Repeat("名", 20000) + `","role":"cashier","pin":"520731"}`, cookie: tech}, 400},
		{"control characters in the name", req{method: "POST", path: "/api/tech/staff", ctype: js, body: `{"id":"zhou.jie","name":"a\u0007b","role":"cashier","pin":"520731"}`, cookie: tech}, 400},
		{"a form", req{method: "POST", path: "/api/tech/staff", ctype: "application/x-www-form-urlencoded", body: "id=x", cookie: tech}, 415},
		{"another origin", req{method: "POST", path: "/api/tech/staff", ctype: js, body: add("zhou.jie", "cashier"), cookie: tech, header: map[string]string{"Origin": "http://evil.example"}}, 403},
	} {
		if got, body := r.do(t, c.q); got != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, got, body, c.want)
		} else if got >= 400 && !strings.Contains(body, `"error":`) {
			t.Errorf("%s: %d without an error saying why: %s", c.name, got, body)
		}
	}

	// The socket may enrol a technician.
	hr, _ := http.NewRequest("POST", sock.URL+"/api/tech/staff", strings.NewReader(add("sun.li", "technician")))
	hr.Header.Set("Content-Type", js)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("socket enrols a technician: %d", resp.StatusCode)
	}

	// What the list says after all that.
	_, body := r.do(t, req{method: "GET", path: "/api/tech/staff", cookie: tech})
	var ps []staff.Person
	if err := json.Unmarshal([]byte(body), &ps); err != nil {
		t.Fatal(err)
	}
	roles := map[string]staff.Role{}
	for _, p := range ps {
		roles[p.ID] = p.Role
	}
	want := map[string]staff.Role{cashierID: staff.Cashier, supervisorID: staff.Supervisor, technicianID: staff.Technician, "wang.fang": staff.Cashier, "sun.li": staff.Technician}
	if len(roles) != len(want) {
		t.Errorf("accounts %v, want %v", roles, want)
	}
	for id, role := range want {
		if roles[id] != role {
			t.Errorf("account %s: role %q, want %q", id, roles[id], role)
		}
	}
	// The reset PIN works at the till; the new cashier signs in.
	r.signIn(t, cashierID, "246813")
	r.signIn(t, "wang.fang", "520731")

	// The audit log has the changes and the refusals, ids only.
	rows, err := r.ob.Reader().Query(`SELECT entry FROM audit ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var b []byte
		rows.Scan(&b)
		e, err := audit.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "王芳") || strings.Contains(string(b), "520731") {
			t.Errorf("audit entry with a name or PIN: %s", b)
		}
		got = append(got, e.Official+" "+e.Step+" "+e.Outcome+" "+e.Subject+" "+e.Reason)
	}
	wantAudit := []string{
		technicianID + " staff_add ok wang.fang cashier",
		technicianID + " staff_add ok liu.yang supervisor",
		technicianID + " staff_add refused sun.li technician",
		technicianID + " staff_reset refused " + technicianID + " technician",
		technicianID + " staff_remove refused " + technicianID + " technician",
		technicianID + " staff_reset ok " + cashierID + " ",
		technicianID + " staff_remove ok liu.yang ",
		"local:unknown staff_add ok sun.li technician",
	}
	if strings.Join(got, "\n") != strings.Join(wantAudit, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantAudit, "\n"))
	}
}

// TestTechOfficials: a technician enrols an official of the e-ID counter
// and resets a locked-out official's PIN; a cashier cannot.
func TestTechOfficials(t *testing.T) {
	r := newAPIRig(t)
	ctx := context.Background()
	if err := r.staff.Add(ctx, technicianID, "赵敏", staff.Technician, technicianPIN); err != nil {
		t.Fatal(err)
	}
	offs := &counter.Officials{Store: r.ob, Iterations: 1000, LockAfter: 2}
	r.srv.Officials = listing{offs}
	r.http = httptest.NewServer(r.srv.Handler())
	t.Cleanup(r.http.Close)
	tech := r.techCookie(t, technicianID, technicianPIN)
	cashier := r.signIn(t, cashierID, cashierPIN)
	js := "application/json"
	set := func(cookie, id, pin string) (int, string) {
		return r.do(t, req{method: "POST", path: "/api/tech/officials/" + id + "/pin", ctype: js, body: `{"pin":"` + pin + `"}`, cookie: cookie})
	}
	if code, body := set(cashier, "wu.gang", "520731"); code != 403 {
		t.Errorf("a cashier enrols an official: %d %s", code, body)
	}
	if code, body := set(tech, "wu.gang", "520731"); code != 200 {
		t.Fatalf("a technician enrols an official: %d %s", code, body)
	}
	if err := offs.Check(ctx, "wu.gang", "520731"); err != nil {
		t.Fatalf("the official enrolled signs in: %v", err)
	}
	offs.Check(ctx, "wu.gang", "000000")
	if err := offs.Check(ctx, "wu.gang", "000000"); !errors.Is(err, counter.ErrLocked) {
		t.Fatalf("two wrong PINs: %v, want locked", err)
	}
	if code, body := r.do(t, req{method: "GET", path: "/api/tech/officials", cookie: cashier}); code != 403 {
		t.Errorf("a cashier lists the officials: %d %s", code, body)
	}
	if code, body := r.do(t, req{method: "GET", path: "/api/tech/officials", cookie: tech}); code != 200 || body != `[{"id":"wu.gang","failures":2,"locked":true}]`+"\n" {
		t.Errorf("the officials listed: %d %s", code, body)
	}
	if code, body := set(tech, "wu.gang", "864213"); code != 200 {
		t.Fatalf("a technician resets the official's PIN: %d %s", code, body)
	}
	if err := offs.Check(ctx, "wu.gang", "864213"); err != nil {
		t.Fatalf("the official after the reset: %v", err)
	}
	for _, c := range []struct{ id, pin string }{{"admin", "520731"}, {"wu.gang", "12"}, {"bad%20id", "520731"}} {
		if code, body := set(tech, c.id, c.pin); code != 400 {
			t.Errorf("official %q PIN %q: %d %s, want 400", c.id, c.pin, code, body)
		}
	}
}

// listing is the counter's officials as the daemon's Desk serves them:
// SetPIN and ListOfficials.
type listing struct{ *counter.Officials }

func (l listing) ListOfficials(ctx context.Context) ([]counter.Account, error) { return l.List(ctx) }
