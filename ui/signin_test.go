package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/internal/browsertest"
)

// TestSignInPayRefundWithSupervisor is the cashier's day as the session
// makes it: the till sends an unsigned browser to the sign-in screen, a
// wrong PIN is refused, the cashier signs in and pays, and a refund waits
// for the supervisor's PIN in its dialog. The screens are in the three
// languages (-screens writes them).
func TestSignInPayRefundWithSupervisor(t *testing.T) {
	r := newRig(t, 2*time.Second)
	r.startPlatform()
	r.waitLinkUp(t)
	b := browsertest.Start(t)
	p := open(t, b, r.url("/index.html"))
	p.run("sent to sign in", chromedp.WaitReady("#signin-submit", chromedp.ByID))
	var path string
	p.eval(`location.pathname + location.search`, &path)
	if path != "/signin.html?next=%2F" { // the file server serves index.html as /
		t.Fatalf("without a session the cashier's page went to %q", path)
	}
	want := map[string]string{"zh": "收银员登录", "en": "Cashier sign-in", "fr": "Connexion du caissier"}
	for _, lang := range []string{"zh", "en", "fr"} {
		p.setLang(lang)
		if got := p.text("h1"); got != want[lang] {
			t.Errorf("%s: title %q, want %q", lang, got, want[lang])
		}
		screenshot(t, p, "signin-"+lang)
	}
	p.run("wrong PIN", clear("cashier"), chromedp.SendKeys("#cashier", cashierID, chromedp.ByID),
		clear("pin"), chromedp.SendKeys("#pin", "000000", chromedp.ByID), chromedp.Click("#signin-submit", chromedp.ByID))
	p.waitFor(`document.getElementById("result").dataset.status === "refused"`, 10*time.Second, "wrong PIN refused")
	if got := p.text("#result"); got != "Identifiant ou code PIN erroné" {
		t.Errorf("wrong PIN says %q", got)
	}
	screenshot(t, p, "signin-refused-fr")
	p.setLang("zh")
	r.signIn(t, b, cashierID, cashierPIN)

	cashier := open(t, b, r.url("/index.html"))
	// session.js fills in the header once /api/session answers.
	cashier.waitFor(`!!document.getElementById("who")?.dataset.id`, 10*time.Second, "the signed-in cashier in the header")
	if got := cashier.text("#who"); got != "李伟 (li.wei)" {
		t.Errorf("signed in as %q", got)
	}
	cashier.pay("30.00", codeOK)
	cashier.waitResult("approved", 10*time.Second)
	var id string
	cashier.eval(`document.getElementById("result").dataset.id`, &id)

	day := open(t, b, r.url("/day.html"))
	day.pick(id)
	title := map[string]string{"zh": "需要主管授权", "en": "A supervisor must approve", "fr": "Un superviseur doit autoriser"}
	for _, lang := range []string{"zh", "en", "fr"} {
		day.setLang(lang)
		// The page fills in what is left to refund when it redraws.
		day.run("ask "+lang, chromedp.Evaluate(`document.getElementById("ramount").value = "10.00"`, nil), chromedp.Click("#dorefund", chromedp.ByID))
		day.waitFor(`document.getElementById("supervisor")?.open === true`, 10*time.Second, "the supervisor's dialog")
		if got := day.text("#supervisor h2"); got != title[lang] {
			t.Errorf("%s: dialog %q, want %q", lang, got, title[lang])
		}
		day.run("type the supervisor", clear("svid"), chromedp.SendKeys("#svid", supervisorID, chromedp.ByID))
		screenshot(t, day, "supervisor-"+lang)
		if lang != "fr" {
			day.run("cancel", chromedp.Click("#svcancel", chromedp.ByID))
			day.waitFor(`!document.getElementById("supervisor").open`, 5*time.Second, "dialog closed")
		}
	}
	// Nothing was refunded while the dialog was cancelled.
	if p, _ := r.co.Get(context.Background(), id); p.Refunded != 0 {
		t.Fatalf("refunded %d before the supervisor approved", p.Refunded)
	}
	day.run("the supervisor's PIN", clear("svpin"), chromedp.SendKeys("#svpin", supervisorPIN, chromedp.ByID), chromedp.Click("#svok", chromedp.ByID))
	day.waitResult("approved", 10*time.Second)
	got, err := r.co.Get(context.Background(), id)
	if err != nil || got.Operator != cashierID || got.Refunded != 1000 || len(got.Refunds) != 1 || got.Refunds[0].By == nil ||
		*got.Refunds[0].By != (checkout.Operator{Cashier: cashierID, Supervisor: supervisorID}) {
		t.Fatalf("payment after the refund: %+v %v", got, err)
	}

	// Sign-out: the pages need a new sign-in.
	day.run("sign out", chromedp.Click("#signout", chromedp.ByID), chromedp.WaitReady("#signin-submit", chromedp.ByID))
	again := open(t, b, r.url("/day.html"))
	again.run("sent to sign in again", chromedp.WaitReady("#signin-submit", chromedp.ByID))
	var loc string
	again.eval(`location.pathname`, &loc)
	if !strings.HasSuffix(loc, "/signin.html") {
		t.Errorf("after sign-out the day page is at %q", loc)
	}
}
