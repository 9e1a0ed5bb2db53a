package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/checkout/emv"
	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/internal/browsertest"
)

// page is a tab of the browser on one of the UI's pages.
type page struct {
	t   *testing.T
	tab context.Context
}

func open(t *testing.T, b *browsertest.Browser, url string) *page {
	t.Helper()
	p := &page{t: t, tab: b.Tab(t)}
	p.run("open "+url, chromedp.Navigate(url), chromedp.WaitReady("body", chromedp.ByQuery))
	return p
}

func (p *page) run(what string, actions ...chromedp.Action) {
	p.t.Helper()
	browsertest.Run(p.t, p.tab, 30*time.Second, what, actions...)
}

// eval evaluates a JavaScript expression into res.
func (p *page) eval(expr string, res any) {
	p.t.Helper()
	p.run("evaluate "+expr, chromedp.Evaluate(expr, res))
}

// text returns the text of the element matched by the CSS selector.
func (p *page) text(sel string) string {
	p.t.Helper()
	var s string
	p.eval(fmt.Sprintf(`document.querySelector(%q).textContent`, sel), &s)
	return s
}

// waitFor waits until the JavaScript expression is true, failing with
// what it shows of the page.
func (p *page) waitFor(expr string, d time.Duration, why string) {
	p.t.Helper()
	browsertest.WaitFor(p.t, p.tab, expr, d, why)
}

// pay types the amount and the code and clicks the pay button, as the
// cashier does.
func (p *page) pay(amount, code string) {
	p.t.Helper()
	p.run("take payment",
		// Forget the last result, so that waitResult sees the new one.
		chromedp.Evaluate(`document.getElementById("result").removeAttribute("data-status")`, nil),
		clear("amount"),
		chromedp.SendKeys("#amount", amount, chromedp.ByID),
		clear("code"),
		chromedp.SendKeys("#code", code, chromedp.ByID),
		chromedp.Click("#submit", chromedp.ByID))
}

// clear empties the input field with the id.
func clear(id string) chromedp.Action {
	// chromedp.SetValue reports a failure with this Chromium.
	return chromedp.Evaluate(fmt.Sprintf(`document.getElementById(%q).value = ""`, id), nil)
}

// waitResult waits for the result line to show status, and returns its text.
func (p *page) waitResult(status string, d time.Duration) string {
	p.t.Helper()
	p.waitFor(fmt.Sprintf(`document.getElementById("result").dataset.status === %q`, status), d, "result "+status)
	return p.text("#result")
}

// setLang picks a language in the page's selector.
func (p *page) setLang(lang string) {
	p.t.Helper()
	p.run("choose language "+lang,
		// A native <select> popup cannot be clicked headless: set the
		// choice and fire the event the user's choice fires.
		chromedp.Evaluate(fmt.Sprintf(`{const s = document.getElementById("lang"); s.value = %q; s.dispatchEvent(new Event("change"))}`, lang), nil))
}

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s %q does not contain %q", what, got, w)
		}
	}
}

// TestCashierInBrowser takes payments through the cashier's page in
// Chromium, against the real flow, outbox, link, broker and platform.
func TestCashierInBrowser(t *testing.T) {
	r := newRig(t, 2*time.Second)
	r.startPlatform()
	r.waitLinkUp(t)
	b := r.browser(t)
	cashier := open(t, b, r.url("/index.html"))
	if got := cashier.text("h1"); got != "收银台" {
		t.Fatalf("default language: title %q, want 收银台", got)
	}

	t.Run("approved", func(t *testing.T) {
		cashier.t = t
		cashier.pay("12.34", codeOK)
		got := cashier.waitResult("approved", 5*time.Second)
		mustContain(t, "result", got, "支付成功", "12.34 CNY")
		cashier.waitFor(`document.querySelector("#recent tbody tr")?.textContent.includes("支付成功")`, 5*time.Second, "approved payment in the recent list")
		mustContain(t, "recent list", cashier.text("#recent tbody tr"), "12.34", "微信支付")
		var value string
		cashier.eval(`document.getElementById("code").value`, &value)
		if value != "" {
			t.Fatalf("code field keeps %q after the payment: the next customer's payment would reuse it", value)
		}
	})

	t.Run("declined", func(t *testing.T) {
		cashier.t = t
		cashier.pay("8.00", codeDecline)
		got := cashier.waitResult("declined", 5*time.Second)
		mustContain(t, "result", got, "支付失败", "8.00 CNY", "wallet refused the code")
	})

	t.Run("invalid code", func(t *testing.T) {
		cashier.t = t
		before, _ := r.co.Recent(context.Background(), 100)
		cashier.pay("1.00", codeInvalid)
		got := cashier.waitResult("error", 5*time.Second)
		mustContain(t, "error line", got, "错误", "paycode")
		after, _ := r.co.Recent(context.Background(), 100)
		if len(after) != len(before) {
			t.Fatalf("an invalid code was stored as a payment: %d payments, was %d", len(after), len(before))
		}
	})

	t.Run("invalid amount", func(t *testing.T) {
		cashier.t = t
		cashier.pay("12.345", codeOK)
		got := cashier.waitResult("error", 5*time.Second)
		mustContain(t, "error line", got, "错误", "amount")
	})

	t.Run("languages", func(t *testing.T) {
		cashier.t = t
		cashier.pay("12.34", codeOK)
		cashier.waitResult("approved", 5*time.Second)
		for _, c := range []struct{ lang, title, button, amount, approved, declined, online string }{
			{"en", "Checkout", "Take payment", "Amount", "Paid", "Declined", "Online"},
			{"fr", "Caisse", "Encaisser", "Montant", "Payé", "Refusé", "En ligne"},
			{"zh", "收银台", "收款", "金额", "支付成功", "支付失败", "在线"},
		} {
			cashier.setLang(c.lang)
			var lang string
			cashier.eval(`document.documentElement.lang`, &lang)
			if lang != c.lang {
				t.Fatalf("html lang %q after choosing %s", lang, c.lang)
			}
			for sel, want := range map[string]string{"h1": c.title, "#submit": c.button, "label span": c.amount} {
				if got := cashier.text(sel); got != want {
					t.Fatalf("%s: %s shows %q, want %q", c.lang, sel, got, want)
				}
			}
			if got := cashier.text("#result"); !strings.HasPrefix(got, c.approved+" · ") {
				t.Fatalf("%s: result %q not translated (want it to start with %q)", c.lang, got, c.approved)
			}
			cashier.waitFor(fmt.Sprintf(`[...document.querySelectorAll("#recent tbody tr")].some(tr => tr.textContent.includes(%q))`, c.declined), 5*time.Second, c.lang+": declined payment in the recent list")
			cashier.waitFor(fmt.Sprintf(`document.getElementById("sync").textContent.startsWith(%q)`, c.online), 5*time.Second, c.lang+": link state in the footer")
		}
		// The choice stays with the browser.
		cashier.setLang("fr")
		cashier.run("reload", chromedp.Reload(), chromedp.WaitReady("body", chromedp.ByQuery))
		cashier.waitFor(`document.querySelector("h1").textContent === "Caisse"`, 5*time.Second, "French kept after a reload")
		cashier.setLang("zh")
	})

	t.Run("error line follows the language", func(t *testing.T) {
		cashier.t = t
		cashier.pay("1.00", codeInvalid)
		cashier.waitResult("error", 5*time.Second)
		cashier.setLang("en")
		got := cashier.text("#result")
		cashier.setLang("zh")
		if cashier.text("#result") == got || !strings.HasPrefix(got, "Error: ") {
			t.Fatalf("after switching to English the error line shows %q", got)
		}
	})

	t.Run("scanned code", func(t *testing.T) {
		cashier.t = t
		cashier.run("clear the form",
			chromedp.Evaluate(`document.getElementById("result").removeAttribute("data-status")`, nil),
			clear("amount"), clear("code"))
		// No amount yet: the scan fills the code and waits for the cashier.
		r.scans.Add(codereader.Code{Format: "CODE_128", Text: "104567890123456789", Source: "test", At: time.Now()})
		cashier.waitFor(`document.getElementById("code").value === "104567890123456789"`, 5*time.Second, "scanned code in the code field")
		n := len(recent(t, r))
		var shown bool
		cashier.eval(`document.getElementById("result").dataset.status !== undefined`, &shown)
		if shown || len(recent(t, r)) != n {
			t.Fatalf("a scan without an amount took a payment: %q", cashier.text("#result"))
		}
		// With the amount entered, the scan takes the payment.
		cashier.run("type amount", chromedp.SendKeys("#amount", "3.50", chromedp.ByID))
		r.scans.Add(codereader.Code{Format: "QR_CODE", Text: "114567890123456789", Source: "test", At: time.Now()})
		mustContain(t, "result", cashier.waitResult("approved", 5*time.Second), "3.50 CNY")
		// A page loaded later does not take the last scan as a new one.
		n = len(recent(t, r))
		cashier.run("reload", chromedp.Reload(), chromedp.WaitReady("body", chromedp.ByQuery), chromedp.SendKeys("#amount", "3.50", chromedp.ByID))
		time.Sleep(time.Second)
		if got := len(recent(t, r)); got != n {
			t.Fatalf("reloading the page paid with the last scanned code again: %d payments, was %d", got, n)
		}
		var value string
		cashier.eval(`document.getElementById("code").value`, &value)
		if value != "" {
			t.Fatalf("reloaded page fills in the old scan %q", value)
		}
	})

	t.Run("platform down then back", func(t *testing.T) {
		cashier.t = t
		status := open(t, b, r.url("/status.html"))
		customer := open(t, b, r.url("/customer.html"))
		status.waitFor(`document.getElementById("fact-queue")?.textContent === "0"`, 5*time.Second, "status page: empty queue")
		r.stopPlatform()
		cashier.pay("66.60", codeOK)
		// The platform silent: a decision within wait_online, approved
		// offline, never "queued".
		got := cashier.waitResult("approved_offline", 10*time.Second)
		mustContain(t, "result", got, "离线批准", "66.60 CNY")
		status.waitFor(`document.getElementById("fact-queue")?.textContent === "1"`, 5*time.Second, "status page: one record waiting")
		customer.waitFor(`document.getElementById("lines").innerText.includes("66.60 CNY")`, 5*time.Second, "customer screen: amount")
		if st := r.ob.Stats(); st.Depth != 1 {
			t.Fatalf("outbox depth %d with the platform down, want 1", st.Depth)
		}
		r.startPlatform()
		// The page follows the offline payment to the platform's answer.
		got = cashier.waitResult("approved", 20*time.Second)
		mustContain(t, "result", got, "支付成功", "66.60 CNY")
		status.waitFor(`document.getElementById("fact-queue")?.textContent === "0"`, 10*time.Second, "status page: queue drained")
		customer.waitFor(`document.getElementById("lines").innerText.includes("支付成功")`, 5*time.Second, "customer screen: approved")
	})
}

func recent(t *testing.T, r *rig) []string {
	t.Helper()
	ps, err := r.co.Recent(context.Background(), 200)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

// TestCustomerAndStatusPages checks the customer screen shows what the
// display is told, QR code included, and the status page the device and
// link.
func TestCustomerAndStatusPages(t *testing.T) {
	r := newRig(t, time.Second)
	r.startPlatform()
	r.waitLinkUp(t)
	b := r.browser(t)
	customer := open(t, b, r.url("/customer.html"))
	customer.waitFor(`!document.getElementById("idle").hidden && document.getElementById("idle").textContent === "欢迎光临"`, 5*time.Second, "welcome text")

	pl := emv.Payload{Initiation: emv.Dynamic, Accounts: []emv.MerchantAccount{{ID: "26", GUI: "com.guichet.pay", Fields: []emv.Field{{ID: "01", Value: "M12345"}}}},
		MCC: "5411", Currency: "156", Amount: "12.34", Country: "CN", MerchantName: "GUICHET TEST", City: "NANNING"}
	qr, err := pl.Build()
	if err != nil {
		t.Fatal(err)
	}
	r.screen.Show(context.Background(), display.Screen{QR: qr, Lines: []string{"应付", "12.34 CNY"}})
	customer.waitFor(`document.getElementById("qr").complete && document.getElementById("qr").naturalWidth > 100 && !document.getElementById("qr").hidden`, 5*time.Second, "QR code image")
	if got := customer.text("#lines"); got != "应付12.34 CNY" {
		t.Fatalf("customer lines %q", got)
	}
	var idleHidden bool
	customer.eval(`document.getElementById("idle").hidden`, &idleHidden)
	if !idleHidden {
		t.Fatal("welcome text shown next to the QR code")
	}
	// The customer sees the status in the page's language, not the API's word.
	r.screen.Show(context.Background(), display.Screen{Lines: []string{"12.34 CNY", "approved"}})
	customer.waitFor(`document.getElementById("qr").hidden && document.getElementById("lines").innerText.includes("支付成功")`, 5*time.Second, "approved in Chinese, QR gone")
	r.screen.Show(context.Background(), display.Screen{})
	customer.waitFor(`!document.getElementById("idle").hidden`, 5*time.Second, "welcome again on a blank screen")

	status := open(t, b, r.url("/status.html"))
	status.waitFor(`document.getElementById("fact-device")?.textContent === "till1"`, 5*time.Second, "device id")
	status.waitFor(`document.getElementById("fact-link")?.textContent === "在线"`, 5*time.Second, "link online")
	if got := status.text("#fact-broker"); got != r.broker.URL() {
		t.Fatalf("broker shown %q, want %q", got, r.broker.URL())
	}
	if got := status.text("#fact-last_sync"); strings.HasPrefix(got, "1/1/1") || strings.Contains(got, "0001") {
		t.Fatalf("last sync shows Go's zero time %q", got)
	}
	// Sync now asks the link to send; the page calls the API, which
	// answers 202 and the page refreshes.
	status.run("sync now", chromedp.Click("#syncnow", chromedp.ByID))
	status.waitFor(`document.getElementById("fact-queue")?.textContent === "0"`, 5*time.Second, "queue after sync now")
	// The language chosen on one page is the language of the others.
	status.setLang("en")
	status.waitFor(`document.getElementById("fact-link").textContent === "Online"`, 5*time.Second, "status page in English")
	customer.waitFor(`document.getElementById("idle").textContent === "Welcome"`, 5*time.Second, "customer screen follows the language chosen on another page")
}
