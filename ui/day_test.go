package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDayPageRefundVoidAndReport takes two payments, refunds part of one
// and voids the other from the day page, and reads the report there.
func TestDayPageRefundVoidAndReport(t *testing.T) {
	r := newRig(t, 3*time.Second)
	r.startPlatform()
	r.waitLinkUp(t)
	b := r.browser(t)
	cashier := open(t, b, r.url("/index.html"))
	cashier.pay("20.00", codeOK)
	cashier.waitResult("approved", 10*time.Second)
	var first string
	cashier.eval(`document.getElementById("result").dataset.id`, &first)
	cashier.pay("7.00", codeOK)
	cashier.waitResult("approved", 10*time.Second)
	var second string
	cashier.eval(`document.getElementById("result").dataset.id`, &second)

	day := open(t, b, r.url("/day.html"))
	day.setLang("en")
	day.waitFor(`document.getElementById("report").dataset.net === "2700"`, 10*time.Second, "report with 27.00 net")
	// The payment is picked in the day's list, never typed.
	day.pick(first)
	day.run("refund 5.00",
		chromedp.Evaluate(`document.getElementById("ramount").value = "5.00"`, nil),
		chromedp.Click("#dorefund", chromedp.ByID))
	// A cashier's session is not enough: a wrong supervisor's PIN, or
	// the cashier's own, is refused and changes nothing.
	day.supervise(supervisorID, "000000")
	day.waitResult("error", 10*time.Second)
	day.run("refund 5.00 again", chromedp.Click("#dorefund", chromedp.ByID))
	day.supervise(cashierID, cashierPIN)
	day.waitResult("error", 10*time.Second)
	if got := day.text("#result"); !strings.Contains(got, "supervisor") {
		t.Errorf("refund approved by the cashier: %q", got)
	}
	day.run("refund 5.00, the supervisor approves", chromedp.Click("#dorefund", chromedp.ByID))
	day.supervise(supervisorID, supervisorPIN)
	day.waitFor(`document.getElementById("report").dataset.net === "2200"`, 15*time.Second, "net 22.00 after the refund")
	day.pick(second)
	day.run("void the second", chromedp.Click("#dovoid", chromedp.ByID))
	day.supervise(supervisorID, supervisorPIN)
	day.waitFor(`document.getElementById("report").dataset.net === "1500"`, 15*time.Second, "net 15.00 after the void")
	// A refund above what is left is refused with the reason on the page.
	day.pick(first)
	day.run("refund too much",
		chromedp.Evaluate(`document.getElementById("result").removeAttribute("data-status"); document.getElementById("ramount").value = "99.00"`, nil),
		chromedp.Click("#dorefund", chromedp.ByID))
	day.supervise(supervisorID, supervisorPIN)
	day.waitResult("error", 10*time.Second)
	if got := day.text("#report"); !contains(got, "Net", "15.00", "Refunds", "5.00") {
		t.Fatalf("report shows %q", got)
	}

	// Closing the day shows the closed report; a payment taken after it
	// counts on the next business day, which the page shows next.
	var today string
	day.eval(`document.getElementById("report").dataset.day`, &today)
	day.run("close the day", chromedp.Click("#closeday", chromedp.ByID))
	day.supervise(supervisorID, supervisorPIN)
	day.waitFor(`document.querySelector('#report td[data-key="Closed"]')?.textContent === "✓"`, 10*time.Second, "closed report")
	if got := day.text("#report"); !contains(got, "Business day", today, "Net", "15.00") {
		t.Fatalf("closed report shows %q", got)
	}
	cashier.pay("3.00", codeOK)
	cashier.waitResult("approved", 10*time.Second)
	day.run("reload", chromedp.Reload())
	day.waitFor(`document.getElementById("report").dataset.net === "300"`, 10*time.Second, "next business day with 3.00 net")
	var next string
	day.eval(`document.getElementById("report").dataset.day`, &next)
	if next <= today {
		t.Fatalf("after closing %s the page shows day %s", today, next)
	}
	if rep, err := r.co.Report(context.Background(), today); err != nil || rep.Net != 1500 || !rep.Closed {
		t.Fatalf("closed day's report changed: %+v %v", rep, err)
	}
}

// pick selects payment id in the day page's list.
func (p *page) pick(id string) {
	p.t.Helper()
	row := fmt.Sprintf(`#payments tr[data-id=%q]`, id)
	p.waitFor(fmt.Sprintf(`document.querySelector(%q) !== null`, row), 10*time.Second, "payment in the day's list")
	// The list is redrawn as the page refreshes it: click the row's button
	// as it is at that moment (a node found before a redraw is gone).
	p.waitFor(fmt.Sprintf(`(() => { const b = document.querySelector(%q);
		if (b && document.getElementById("sel").dataset.id !== %q) b.click();
		return document.getElementById("sel").dataset.id === %q; })()`, row+" button.pick", id, id), 10*time.Second, "payment selected")
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
