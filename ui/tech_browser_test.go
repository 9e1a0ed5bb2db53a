package ui_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/checkout"
	displaysim "github.com/guichet/guichet/device/display/sim"
	"github.com/guichet/guichet/eid/counter"
	"github.com/guichet/guichet/internal/browsertest"
	"github.com/guichet/guichet/internal/daemon"
	"github.com/guichet/guichet/internal/selftest"
	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/ui"
)

// screenRig is the UI over a real store and real accounts, with a
// self-test whose printer check fails with a hint, and a status with a
// degraded scanner: the technician's screen has something to show.
type screenRig struct {
	ob    *outbox.Store
	staff *staff.Staff
	http  *httptest.Server
	runs  atomic.Int32 // self-tests run
}

func newScreenRig(t *testing.T) *screenRig {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Identity{Tenant: "shop1", Device: "till1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	r := &screenRig{ob: ob, staff: seedStaff(t, ob)}
	if err := r.staff.Add(context.Background(), technicianID, "赵敏", staff.Technician, technicianPIN); err != nil {
		t.Fatal(err)
	}
	co := &checkout.Service{Store: ob, Currency: "CNY", WaitOnline: 20 * time.Millisecond,
		OfflinePerTransaction: checkout.MaxAmount, OfflineTotal: checkout.MaxAmount, Log: slog.New(slog.DiscardHandler)}
	srv := &ui.Server{Checkout: co, Till: co, Currency: "CNY", Screen: displaysim.New(), Scans: ui.NewScans(),
		SyncNow: func() {}, Languages: []string{"zh", "en", "fr"}, Log: slog.New(slog.DiscardHandler), Staff: r.staff,
		Status: func() any {
			return daemon.Status{Device: "till1", Tenant: "shop1", Hardware: "real", Queue: ob.Stats(),
				Link: link.Status{Broker: "ssl://127.0.0.1:8883"},
				Devices: daemon.DeviceStates([]envelope.HealthDevice{
					{Name: "devices.code_readers[0]", Driver: "serial", State: envelope.DeviceOK},
					{Name: "devices.printer", Driver: "escpos", State: envelope.DeviceDegraded, Hint: "out of paper"},
				})}
		},
		SelfTest: func(ctx context.Context) (selftest.Report, error) {
			r.runs.Add(1)
			// Long enough for the page's running state to show.
			select {
			case <-time.After(700 * time.Millisecond):
			case <-ctx.Done():
				return selftest.Report{}, ctx.Err()
			}
			return selftest.Report{Failed: 1, Millis: 700, Results: []selftest.Result{
				{Name: "clock", Status: selftest.Pass, Detail: "synchronised (NTP)", Millis: 1},
				{Name: "broker", Status: selftest.Pass, Detail: "ssl://127.0.0.1:8883 accepts the device's credentials", Millis: 40},
				{Name: "printer", Status: selftest.Fail, Detail: "printer: out of paper", Hint: "load a roll of 80 mm paper", Millis: 300},
				{Name: "card_reader", Status: selftest.Skip, Detail: "no card reader configured"},
			}}, nil
		}}
	r.http = httptest.NewServer(srv.Handler())
	t.Cleanup(func() { r.http.CloseClientConnections(); r.http.Close() })
	return r
}

func (r *screenRig) url(path string) string { return r.http.URL + path }

// techSignIn fills the technician's sign-in on p.
func (p *page) techSignIn(id, pin string) {
	p.t.Helper()
	p.run("technician sign-in as "+id, chromedp.WaitReady("#technician", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("result").removeAttribute("data-status")`, nil),
		clear("technician"), chromedp.SendKeys("#technician", id, chromedp.ByID),
		clear("pin"), chromedp.SendKeys("#pin", pin, chromedp.ByID), chromedp.Click("#signin-submit", chromedp.ByID))
}

// TestTechnicianScreenInBrowser: in Chromium, the technician's pages send
// a browser without a technician's session to the technician's sign-in,
// which refuses a cashier and a wrong PIN; the technician runs the
// self-test and reads the failing check's hint; enrols a cashier and
// resets a locked-out one, who then both sign in at the till; the
// technician's session at the till goes to the cashier's sign-in, and a
// cashier's on the technician's pages to the technician's.
func TestTechnicianScreenInBrowser(t *testing.T) {
	r := newScreenRig(t)
	ctx := context.Background()
	// The cashier locks the account out with wrong PINs.
	for range 3 {
		r.staff.Check(ctx, cashierID, "000000")
	}
	if _, err := r.staff.Check(ctx, cashierID, cashierPIN); !errors.Is(err, staff.ErrLocked) {
		t.Fatalf("cashier after 3 wrong PINs: %v, want locked", err)
	}
	b := browsertest.Start(t)

	// No session: the overview sends to the sign-in, and back after.
	p := open(t, b, r.url("/tech.html"))
	p.run("arrive at the sign-in", chromedp.WaitReady("#technician", chromedp.ByID))
	p.waitFor(`location.pathname === "/tech-signin.html" && new URLSearchParams(location.search).get("next") === "/tech.html"`, 10*time.Second, "sent to the technician's sign-in")
	inLanguages(t, p, "tech-signin", func(l string) string {
		return fmt.Sprintf(`document.querySelector("h1").textContent === %q`, map[string]string{"zh": "技术员登录", "en": "Technician sign-in", "fr": "Connexion du technicien"}[l])
	})
	p.setLang("en")
	p.techSignIn(supervisorID, supervisorPIN)
	p.waitFor(`document.getElementById("result").dataset.status === "not_technician"`, 10*time.Second, "a supervisor refused")
	mustContain(t, "refusal", p.text("#result"), "not a technician's account")
	p.techSignIn(technicianID, "000000")
	p.waitFor(`document.getElementById("result").dataset.status === "refused"`, 10*time.Second, "a wrong PIN refused")
	mustContain(t, "refusal", p.text("#result"), "Wrong id or PIN")
	p.setLang("fr")
	p.waitFor(`document.getElementById("result").textContent === "Identifiant ou code PIN erroné"`, 5*time.Second, "the refusal in French")
	p.setLang("zh")
	p.techSignIn(technicianID, technicianPIN)
	p.run("arrive at the overview", chromedp.WaitReady(`#who[data-id=`+strconv.Quote(technicianID)+`]`, chromedp.ByQuery))
	p.waitFor(`location.pathname === "/tech.html" && document.getElementById("who")?.dataset.id === `+strconv.Quote(technicianID), 10*time.Second, "back on the overview, signed in")

	// The self-test: running, then one row per check.
	p.run("run the self-test", chromedp.Click("#selftest-run", chromedp.ByID))
	p.waitFor(`document.getElementById("selftest-state").dataset.state === "running" && document.getElementById("selftest-run").disabled`, 5*time.Second, "self-test running")
	p.waitFor(`document.getElementById("selftest-state").dataset.state === "failed"`, 10*time.Second, "self-test done")
	var rows int
	p.eval(`document.querySelectorAll("#selftest tbody tr").length`, &rows)
	if rows != 4 {
		t.Fatalf("self-test table: %d rows, want 4", rows)
	}
	mustContain(t, "failing row", p.text(`#selftest tr[data-check="printer"]`), "未通过", "printer: out of paper", "load a roll of 80 mm paper")
	mustContain(t, "passing row", p.text(`#selftest tr[data-check="broker"]`), "通过")
	var hint string
	p.eval(`document.querySelector('#selftest tr[data-check="broker"] td.hint').textContent`, &hint)
	if hint != "" {
		t.Errorf("a passing check shows a hint: %q", hint)
	}
	if n := r.runs.Load(); n != 1 {
		t.Errorf("self-tests run: %d, want 1", n)
	}
	mustContain(t, "degraded printer", p.text("#dev-devices-printer"), "缺纸")
	inLanguages(t, p, "tech-selftest", func(l string) string {
		return fmt.Sprintf(`document.querySelector('#selftest tr[data-check="printer"] td.st').textContent === %q`, map[string]string{"zh": "未通过", "en": "FAIL", "fr": "ÉCHEC"}[l])
	})
	p.run("sync now", chromedp.Click("#syncnow", chromedp.ByID))
	p.waitFor(`document.getElementById("sync-state").dataset.state === "requested"`, 5*time.Second, "sync requested")

	// Accounts: the locked cashier is shown locked; reset it; enrol one.
	p.setLang("en")
	p.run("open the accounts", chromedp.Click(`#technav a[href="tech-staff.html"]`, chromedp.ByQuery),
		chromedp.WaitReady(`#staff tr[data-id="`+cashierID+`"]`, chromedp.ByQuery))
	p.waitFor(`document.querySelector('#staff tr[data-id="`+cashierID+`"] td.state')?.dataset.locked === "true"`, 10*time.Second, "the locked cashier listed")
	var techButtons int
	p.eval(`document.querySelectorAll('#staff tr[data-id="`+technicianID+`"] button').length`, &techButtons)
	if techButtons != 0 {
		t.Errorf("the technician's own row has %d buttons, want none", techButtons)
	}
	p.run("enrol a cashier", clear("new-id"), chromedp.SendKeys("#new-id", "wang.fang", chromedp.ByID),
		chromedp.SendKeys("#new-name", "王芳", chromedp.ByID), chromedp.SendKeys("#new-pin", "520731", chromedp.ByID),
		chromedp.Click("#enrol-submit", chromedp.ByID))
	p.waitFor(`document.querySelector('#staff tr[data-id="wang.fang"]') !== null`, 10*time.Second, "the new cashier listed")
	// The same id again is refused, and says why.
	p.run("enrol the same id", chromedp.SendKeys("#new-id", "wang.fang", chromedp.ByID),
		chromedp.SendKeys("#new-name", "王芳", chromedp.ByID), chromedp.SendKeys("#new-pin", "520731", chromedp.ByID),
		chromedp.Click("#enrol-submit", chromedp.ByID))
	p.waitFor(`document.getElementById("staff-result").dataset.status === "error"`, 10*time.Second, "the same id refused")
	mustContain(t, "refusal", p.text("#staff-result"), "an account with this id exists")
	p.run("empty the enrolment form", clear("new-id"), clear("new-name"))
	p.run("reset the cashier's PIN", chromedp.Click(`#staff tr[data-id="`+cashierID+`"] button.reset`, chromedp.ByQuery),
		chromedp.WaitVisible("#reset-pin", chromedp.ByID), chromedp.SendKeys("#reset-pin", "246813", chromedp.ByID),
		chromedp.Click("#reset-submit", chromedp.ByID))
	p.waitFor(`document.querySelector('#staff tr[data-id="`+cashierID+`"] td.state')?.dataset.locked === "false"`, 10*time.Second, "the cashier unlocked")
	mustContain(t, "reset", p.text("#staff-result"), "PIN of "+cashierID+" reset")
	// Officials: not on a till.
	var offHidden bool
	p.eval(`document.getElementById("officials").hidden`, &offHidden)
	if !offHidden {
		t.Error("the officials' part shows on a till without an e-ID counter")
	}
	inLanguages(t, p, "tech-staff", func(l string) string {
		return fmt.Sprintf(`document.querySelector("#staff thead th:nth-child(3)").textContent === %q`, map[string]string{"zh": "角色", "en": "Role", "fr": "Rôle"}[l])
	})

	// The technician's session at the till: sent to the cashier's sign-in.
	till := open(t, b, r.url("/day.html"))
	till.run("arrive at the cashier's sign-in", chromedp.WaitReady("#cashier", chromedp.ByID))
	till.waitFor(`location.pathname === "/signin.html"`, 10*time.Second, "the technician at the till sent to the cashier's sign-in")
	// The enrolled cashier signs in there, and so does the one reset.
	for _, c := range []struct{ id, pin string }{{"wang.fang", "520731"}, {cashierID, "246813"}} {
		till.run("cashier sign-in as "+c.id, chromedp.Navigate(r.url("/signin.html?next=/index.html")), chromedp.WaitReady("#cashier", chromedp.ByID),
			clear("cashier"), chromedp.SendKeys("#cashier", c.id, chromedp.ByID),
			clear("pin"), chromedp.SendKeys("#pin", c.pin, chromedp.ByID), chromedp.Click("#signin-submit", chromedp.ByID),
			chromedp.WaitReady(`#who[data-id=`+strconv.Quote(c.id)+`]`, chromedp.ByQuery))
		var where string
		till.eval(`location.pathname + " " + document.getElementById("who")?.dataset.id`, &where)
		// The file server serves index.html as "/".
		if want := "/ " + c.id; where != want {
			t.Errorf("after %s's sign-in at the till: %q, want %q", c.id, where, want)
		}
	}
	// A cashier's session on the technician's pages: sent to the
	// technician's sign-in.
	till.run("a cashier opens the accounts", chromedp.Navigate(r.url("/tech-staff.html")), chromedp.WaitReady("#technician", chromedp.ByID))
	till.waitFor(`location.pathname === "/tech-signin.html" && new URLSearchParams(location.search).get("next") === "/tech-staff.html"`, 10*time.Second, "a cashier sent to the technician's sign-in")
}

// TestTechClearsTamperInBrowser: on the overview, the signed-in
// technician clears the tamper lock with their own PIN typed again; a
// wrong PIN is refused on the page (the session stays) and the lock holds.
func TestTechClearsTamperInBrowser(t *testing.T) {
	r, sw := newTamperedRig(t)
	b := browsertest.Start(t)
	p := open(t, b, r.http.URL+"/tech-signin.html?next=/tech.html")
	p.setLang("en")
	p.techSignIn(technicianID, technicianPIN)
	p.run("arrive at the overview", chromedp.WaitReady(`#who[data-id=`+strconv.Quote(technicianID)+`]`, chromedp.ByQuery))
	p.waitFor(`!document.getElementById("tamper-clear").hidden && !document.getElementById("tamper-banner").hidden`, 10*time.Second, "the lock and its form")
	p.run("a wrong PIN", chromedp.SendKeys("#tamper-pin", "000000", chromedp.ByID), chromedp.Click("#tamper-submit", chromedp.ByID))
	p.waitFor(`document.getElementById("tamper-result").dataset.status === "refused"`, 10*time.Second, "the wrong PIN refused")
	mustContain(t, "refusal", p.text("#tamper-result"), "Wrong id or PIN")
	if !sw.State().Locked {
		t.Fatal("the lock lifted with a wrong PIN")
	}
	var where string
	p.eval(`location.pathname`, &where)
	if where != "/tech.html" {
		t.Fatalf("a wrong tamper PIN left the page for %s", where)
	}
	p.run("the right PIN", chromedp.SendKeys("#tamper-pin", technicianPIN, chromedp.ByID), chromedp.Click("#tamper-submit", chromedp.ByID))
	p.waitFor(`document.getElementById("tamper-result").dataset.status === "cleared" && document.getElementById("tamper-clear").hidden`, 10*time.Second, "the lock cleared")
	if st := sw.State(); st.Locked || st.ClearedBy != technicianID {
		t.Fatalf("after clearing: %+v", st)
	}
}

// TestTechOfficialsInBrowser: on an e-ID counter the accounts page lists
// the officials with their lock-outs, and the technician resets a
// locked-out official's PIN from the list.
func TestTechOfficialsInBrowser(t *testing.T) {
	ctx := context.Background()
	r := newAPIRig(t)
	if err := r.staff.Add(ctx, technicianID, "赵敏", staff.Technician, technicianPIN); err != nil {
		t.Fatal(err)
	}
	offs := &counter.Officials{Store: r.ob, Iterations: 1000, LockAfter: 2}
	if err := offs.SetPIN(ctx, "wu.gang", "520731"); err != nil {
		t.Fatal(err)
	}
	offs.Check(ctx, "wu.gang", "000000")
	offs.Check(ctx, "wu.gang", "000000")
	r.srv.Officials = listing{offs}
	// The appliance is an e-ID counter (GET /api/config says so); this
	// test drives none of the counter's own routes.
	r.srv.Counter = struct{ ui.Counter }{}
	r.http.Close()
	r.http = httptest.NewServer(r.srv.Handler())
	t.Cleanup(r.http.Close)
	b := browsertest.Start(t)
	p := open(t, b, r.http.URL+"/tech-signin.html?next=/tech-staff.html")
	p.setLang("en")
	p.techSignIn(technicianID, technicianPIN)
	p.run("arrive at the accounts", chromedp.WaitReady(`#official-list tr[data-id="wu.gang"]`, chromedp.ByQuery))
	p.waitFor(`!document.getElementById("officials").hidden && document.querySelector('#official-list tr[data-id="wu.gang"] td.state').dataset.locked === "true"`, 10*time.Second, "the locked official listed")
	p.run("reset the official's PIN", chromedp.Click(`#official-list tr[data-id="wu.gang"] button.reset`, chromedp.ByQuery),
		chromedp.SendKeys("#off-pin", "864213", chromedp.ByID), chromedp.Click("#official-submit", chromedp.ByID))
	p.waitFor(`document.querySelector('#official-list tr[data-id="wu.gang"] td.state').dataset.locked === "false"`, 10*time.Second, "the official unlocked")
	mustContain(t, "result", p.text("#official-result"), "PIN of official wu.gang set")
	if err := offs.Check(ctx, "wu.gang", "864213"); err != nil {
		t.Fatalf("the official with the new PIN: %v", err)
	}
}
