package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/device/codereader"
)

// TestSplitBillInBrowser takes split bills through the split page in
// Chromium, against the real flow, outbox, link, broker and platform.
func TestSplitBillInBrowser(t *testing.T) {
	r := newRig(t, 2*time.Second)
	r.startPlatform()
	r.waitLinkUp(t)
	b := r.browser(t)
	split := open(t, b, r.url("/index.html"))
	split.run("follow the cashier page's link", chromedp.Click(`nav a[href="split.html"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#total", chromedp.ByID))
	if got := split.text("h1"); got != "分单收款" {
		t.Fatalf("split page title %q, want 分单收款", got)
	}

	t.Run("two codes", func(t *testing.T) {
		split.t = t
		id := openOrder(split, "30.00")
		split.pay("10.00", codeOK)
		mustContain(t, "result", split.waitResult("approved", 5*time.Second), "支付成功", "10.00 CNY")
		split.waitFor(`document.getElementById("amount").value === "20.00"`, 5*time.Second, "amount prefilled with the 20.00 left")
		mustContain(t, "order line", split.text("#orderstatus"), "待收", "20.00 CNY")

		// Above what is left: refused, nothing stored, said in the page's language.
		split.pay("25.00", codeOK)
		mustContain(t, "error line", split.waitResult("error", 5*time.Second), "错误", "金额超过待收的 20.00 CNY")
		if v := order(t, r, id); len(v.Parts) != 1 || v.Remaining != 2000 {
			t.Fatalf("after a part above the remaining amount the order has %d parts, %d left; want 1 part, 2000 left", len(v.Parts), v.Remaining)
		}

		// A scanned code fills the code field but does not pay by itself.
		split.run("set the second part", clear("code"), clear("amount"), chromedp.SendKeys("#amount", "20.00", chromedp.ByID))
		r.scans.Add(codereader.Code{Format: "QR_CODE", Text: codeOK, Source: "test", At: time.Now()})
		split.waitFor(fmt.Sprintf(`document.getElementById("code").value === %q`, codeOK), 5*time.Second, "scanned code in the code field")
		time.Sleep(500 * time.Millisecond)
		if v := order(t, r, id); len(v.Parts) != 1 {
			t.Fatalf("a scan paid a part by itself: %d parts", len(v.Parts))
		}
		split.run("take the second part", chromedp.Evaluate(`document.getElementById("result").removeAttribute("data-status")`, nil),
			chromedp.Click("#submit", chromedp.ByID))
		mustContain(t, "result", split.waitResult("approved", 5*time.Second), "20.00 CNY")
		split.waitFor(`document.getElementById("orderstatus").dataset.status === "paid"`, 5*time.Second, "order paid")
		mustContain(t, "order line", split.text("#orderstatus"), "订单已付清", "30.00 CNY")
		if got := partStatuses(split); fmt.Sprint(got) != "[approved approved]" {
			t.Fatalf("parts shown %v, want both approved", got)
		}
		mustContain(t, "parts table", split.text("#parts tbody"), "10.00", "20.00", "支付成功", "微信支付", "…"+codeOK[len(codeOK)-4:])
		var formHidden bool
		split.eval(`document.getElementById("part").hidden && getComputedStyle(document.getElementById("part")).display === "none"`, &formHidden)
		if !formHidden {
			t.Fatal("the form for another part is still shown on a paid order")
		}
		if v := order(t, r, id); v.Status != checkout.OrderPaid || v.Paid != 3000 {
			t.Fatalf("order %s: status %s, paid %d; want paid, 3000", id, v.Status, v.Paid)
		}
		splitShot(t, split, "split")

		// The order stays on the page across a reload.
		split.run("reload", chromedp.Reload(), chromedp.WaitReady("body", chromedp.ByQuery))
		split.waitFor(fmt.Sprintf(`document.getElementById("sum-id").textContent === %q && document.querySelectorAll("#parts tbody tr").length === 2`, id), 5*time.Second, "order after a reload")
	})

	t.Run("declined code", func(t *testing.T) {
		split.t = t
		split.setLang("en")
		defer split.setLang("zh")
		split.run("new order", chromedp.Click("#neworder", chromedp.ByID), chromedp.WaitVisible("#total", chromedp.ByID))
		id := openOrder(split, "8.00")
		split.pay("8.00", codeInvalid)
		mustContain(t, "error line", split.waitResult("error", 5*time.Second), "Error: ", "paycode")
		split.pay("8.00", codeDecline)
		mustContain(t, "result", split.waitResult("declined", 5*time.Second), "Declined", "8.00 CNY", "wallet refused the code")
		if got := partStatuses(split); fmt.Sprint(got) != "[declined]" {
			t.Fatalf("parts shown %v, want one declined", got)
		}
		mustContain(t, "order line", split.text("#orderstatus"), "Left to pay", "8.00 CNY")
		// The declined share is still to pay, and is tried with another code.
		var amount string
		split.eval(`document.getElementById("amount").value`, &amount)
		if amount != "8.00" {
			t.Fatalf("amount field %q after a declined part, want 8.00", amount)
		}
		splitShot(t, split, "split-declined-en")
		split.pay("8.00", codeOK)
		split.waitResult("approved", 5*time.Second)
		split.waitFor(`document.getElementById("orderstatus").dataset.status === "paid"`, 5*time.Second, "order paid")
		mustContain(t, "order line", split.text("#orderstatus"), "Order paid")
		if got := partStatuses(split); fmt.Sprint(got) != "[declined approved]" {
			t.Fatalf("parts shown %v, want declined then approved", got)
		}
		if v := order(t, r, id); v.Status != checkout.OrderPaid || v.Paid != 800 {
			t.Fatalf("order %s: status %s, paid %d; want paid, 800", id, v.Status, v.Paid)
		}
	})

	t.Run("queued part followed", func(t *testing.T) {
		split.t = t
		split.run("new order", chromedp.Click("#neworder", chromedp.ByID), chromedp.WaitVisible("#total", chromedp.ByID))
		openOrder(split, "5.00")
		r.stopPlatform()
		split.pay("5.00", codeOK)
		// The platform silent: the part is approved offline, which pays the order.
		mustContain(t, "result", split.waitResult("approved_offline", 10*time.Second), "离线批准")
		r.startPlatform()
		split.waitResult("approved", 20*time.Second)
		split.waitFor(`document.getElementById("orderstatus").dataset.status === "paid"`, 5*time.Second, "order paid once the platform answered")
	})

	t.Run("languages", func(t *testing.T) {
		split.t = t
		for _, c := range []struct{ lang, title, paid, part string }{
			{"en", "Split bill", "Order paid", "Paid"},
			{"fr", "Addition partagée", "Commande payée", "Payé"},
			{"zh", "分单收款", "订单已付清", "支付成功"},
		} {
			split.setLang(c.lang)
			if got := split.text("h1"); got != c.title {
				t.Fatalf("%s: title %q, want %q", c.lang, got, c.title)
			}
			mustContain(t, c.lang+" order line", split.text("#orderstatus"), c.paid)
			mustContain(t, c.lang+" parts", split.text("#parts tbody"), c.part)
		}
		// Every text of the page exists in the three languages.
		var texts string
		split.eval(`JSON.stringify(TEXTS)`, &texts)
		var byLang map[string]map[string]string
		if err := json.Unmarshal([]byte(texts), &byLang); err != nil {
			t.Fatal(err)
		}
		keys := []string{"queued", "approved", "declined", "user_paying", "reversed", "approved_offline", "voided"}
		for _, f := range []struct{ file, re string }{{"split.html", `data-i18n="([a-z_]+)"`}, {"split.js", `\bt\("([a-z_]+)"\)`}} {
			src, err := os.ReadFile(filepath.Join("assets", f.file))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range regexp.MustCompile(f.re).FindAllStringSubmatch(string(src), -1) {
				keys = append(keys, m[1])
			}
		}
		for _, lang := range []string{"zh", "en", "fr"} {
			for _, k := range keys {
				if byLang[lang][k] == "" {
					t.Errorf("text %q has no %s translation", k, lang)
				}
			}
		}
	})
}

// openOrder enters the total and opens the order, returning its id once
// the page shows it with the amount prefilled.
func openOrder(p *page, total string) string {
	p.t.Helper()
	p.run("open an order of "+total, clear("total"), chromedp.SendKeys("#total", total, chromedp.ByID), chromedp.Click("#create", chromedp.ByID))
	p.waitFor(fmt.Sprintf(`!document.getElementById("orderbox").hidden && document.getElementById("amount").value === %q`, total), 5*time.Second, "order opened, amount prefilled")
	return p.text("#sum-id")
}

// partStatuses returns the statuses of the parts in the page's table.
func partStatuses(p *page) []string {
	p.t.Helper()
	var s []string
	p.eval(`[...document.querySelectorAll("#parts tbody tr")].map(tr => tr.dataset.status)`, &s)
	return s
}

func order(t *testing.T, r *rig, id string) *checkout.OrderView {
	t.Helper()
	v, err := r.co.GetOrder(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// splitShot takes a screenshot of the page, written to docs/screens with
// -screens as TestScreenshots does.
func splitShot(t *testing.T, p *page, name string) {
	t.Helper()
	// Without a CJK font Chromium draws the Chinese texts as boxes.
	if *writeScreens {
		if out, err := exec.Command("fc-list", ":lang=zh", "family").Output(); err != nil || len(bytes.TrimSpace(out)) == 0 {
			t.Fatalf("no Chinese font (apt-get install fonts-noto-cjk): fc-list: %v", err)
		}
	}
	screenshot(t, p, name)
}
