package ui_test

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/checkout/emv"
	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/internal/browsertest"
)

var writeScreens = flag.Bool("screens", false, "write the screenshots to docs/screens")

// TestScreenshots takes the screenshots of docs/screens: the cashier's
// page in each state, the customer screen and the status page, in the
// three languages. Run with -screens to write them:
//
//	go test ./ui -run TestScreenshots -screens
func TestScreenshots(t *testing.T) {
	// Without a CJK font Chromium draws the Chinese texts as boxes.
	out, err := exec.Command("fc-list", ":lang=zh", "family").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("no Chinese font (apt-get install fonts-noto-cjk): fc-list: %v", err)
	}
	r := newRig(t, 2*time.Second)
	r.startPlatform()
	r.waitLinkUp(t)
	b := r.browser(t)
	cashier := open(t, b, r.url("/index.html"))
	shot := func(p *page, name string) {
		t.Helper()
		var buf []byte
		// Let the page finish its fetches and fonts before the shot.
		p.waitFor(`document.readyState === "complete" && document.fonts.status === "loaded"`, 5*time.Second, "page settled")
		time.Sleep(300 * time.Millisecond)
		p.run("screenshot "+name, cdppage.BringToFront(), chromedp.CaptureScreenshot(&buf))
		img, err := png.Decode(bytes.NewReader(buf))
		if err != nil {
			t.Fatalf("%s: screenshot is not a PNG: %v", name, err)
		}
		if sz := img.Bounds().Size(); sz.X != browsertest.Width || sz.Y != browsertest.Height {
			t.Fatalf("%s: screenshot %v, want %dx%d", name, sz, browsertest.Width, browsertest.Height)
		}
		if *writeScreens {
			path := filepath.Join(brokertest.Root(t), "docs", "screens", name+".png")
			if err := os.WriteFile(path, buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	shot(cashier, "cashier-idle-zh")
	cashier.pay("12.34", codeOK)
	cashier.waitResult("approved", 5*time.Second)
	shot(cashier, "cashier-approved-zh")

	cashier.setLang("en")
	cashier.pay("8.00", codeDecline)
	cashier.waitResult("declined", 5*time.Second)
	shot(cashier, "cashier-declined-en")

	cashier.pay("5.00", codeInvalid)
	cashier.waitResult("error", 5*time.Second)
	shot(cashier, "cashier-error-en")

	cashier.setLang("fr")
	r.stopPlatform()
	cashier.pay("66.60", codeOK)
	cashier.waitResult("approved_offline", 10*time.Second)
	cashier.waitFor(`document.getElementById("sync").textContent.endsWith(": 1")`, 5*time.Second, "queue depth in the footer")
	shot(cashier, "cashier-approved-offline-fr")
	status := open(t, b, r.url("/status.html"))
	status.waitFor(`document.getElementById("fact-queue")?.textContent === "1"`, 5*time.Second, "queue depth")
	shot(status, "status-queued-fr")
	r.startPlatform()
	cashier.waitResult("approved", 20*time.Second)
	shot(cashier, "cashier-approved-fr")

	status.setLang("en")
	status.waitFor(`document.getElementById("fact-queue")?.textContent === "0" && document.getElementById("fact-last_sync").textContent !== "-"`, 10*time.Second, "queue drained")
	shot(status, "status-en")

	customer := open(t, b, r.url("/customer.html"))
	// The customer screen has no selector: it follows the language chosen
	// in another page of the browser.
	status.setLang("zh")
	r.screen.Show(context.Background(), display.Screen{})
	customer.waitFor(`!document.getElementById("idle").hidden && document.getElementById("idle").textContent === "欢迎光临"`, 5*time.Second, "welcome")
	shot(customer, "customer-idle-zh")
	pl := emv.Payload{Initiation: emv.Dynamic, Accounts: []emv.MerchantAccount{{ID: "26", GUI: "com.guichet.pay", Fields: []emv.Field{{ID: "01", Value: "M12345"}}}},
		MCC: "5411", Currency: "156", Amount: "12.34", Country: "CN", MerchantName: "GUICHET DEMO", City: "NANNING"}
	qr, err := pl.Build()
	if err != nil {
		t.Fatal(err)
	}
	r.screen.Show(context.Background(), display.Screen{QR: qr, Lines: []string{"12.34 CNY"}})
	customer.waitFor(`document.getElementById("qr").complete && document.getElementById("qr").naturalWidth > 0 && !document.getElementById("qr").hidden`, 5*time.Second, "QR code")
	shot(customer, "customer-qr-zh")
	r.screen.Show(context.Background(), display.Screen{Lines: []string{"12.34 CNY", "approved"}})
	customer.waitFor(`document.getElementById("lines").innerText.includes("支付成功")`, 5*time.Second, "approved")
	shot(customer, "customer-approved-zh")
	if *writeScreens {
		t.Logf("screenshots written to docs/screens")
	}
}
