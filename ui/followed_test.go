package ui_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/platform/wallet"
)

// Codes of the simulated customer who confirms on the phone, and of the
// one who never does.
const (
	codeConfirms = "155567890123456780"
	codeAbandons = "155667890123456780"
)

// followedTexts are what the pages must say, per language.
var followedTexts = map[string]struct{ notConfirmed, qrPaid, customerPaid, customerScan, customerExpired, qrExpired string }{
	"zh": {"顾客未确认：未扣款", "收款码已支付", "支付成功", "请扫码支付", "收款码已过期", "收款码已过期"},
	"en": {"customer did not confirm: not charged", "QR paid", "Payment successful", "Scan to pay", "This code has expired", "QR expired, not paid"},
	"fr": {"le client n'a pas confirmé : non débité", "QR payé", "Paiement accepté", "Scannez pour payer", "Ce code a expiré", "QR expiré, non payé"},
}

// TestFollowedToTheEndInBrowser: in each language, the cashier's screen
// follows a payment the customer confirms on the phone to approved, one
// nobody confirms to reversed, and the shop's QR code as an order: paid
// by the simulated wallet (seen on the cashier's and the customer's
// screens), expired (a late payment refused), cancelled. Run with
// -screens to write the screenshots.
func TestFollowedToTheEndInBrowser(t *testing.T) {
	const qrTTL = 6 * time.Second
	r := newRig(t, 2*time.Second, func(s *checkout.Service) { s.QRTTL = qrTTL })
	r.startPlatform()
	r.waitLinkUp(t)
	b := r.browser(t)
	cashier := open(t, b, r.url("/index.html"))
	customer := open(t, b, r.url("/customer.html"))
	ctx := context.Background()
	showQR := func(amount string) string {
		t.Helper()
		cashier.run("show the shop's QR",
			chromedp.Evaluate(`document.getElementById("result").removeAttribute("data-status")`, nil),
			clear("amount"),
			chromedp.SendKeys("#amount", amount, chromedp.ByID),
			chromedp.Click("#showqr", chromedp.ByID))
		cashier.waitFor(`["qr_open", "qr_sent"].includes(document.getElementById("result").dataset.status)`, 5*time.Second, "QR order shown")
		var ref string
		cashier.eval(`document.getElementById("result").dataset.ref`, &ref)
		return ref
	}
	customerSays := func(status, text string, qr bool) {
		t.Helper()
		customer.waitFor(fmt.Sprintf(`document.getElementById("status")?.dataset.status === %q && document.getElementById("status").textContent === %q && document.getElementById("qr").hidden === %v`,
			status, text, !qr), 5*time.Second, "customer screen "+status)
	}
	for _, lang := range []string{"zh", "en", "fr"} {
		want := followedTexts[lang]
		cashier.setLang(lang)

		// The customer confirms on the phone: the screen moves on by itself.
		cashier.pay("20.00", codeConfirms)
		cashier.waitResult("user_paying", 5*time.Second)
		screenshot(t, cashier, "cashier-confirming-"+lang)
		cashier.waitResult("approved", rigConfirmAfter+10*time.Second)

		// Nobody confirms: reversed, and the cashier is told the customer
		// was not charged.
		cashier.pay("21.00", codeAbandons)
		cashier.waitResult("user_paying", 5*time.Second)
		got := cashier.waitResult("reversed", rigConfirmTimeout+10*time.Second)
		mustContain(t, "reversed payment", got, want.notConfirmed)
		screenshot(t, cashier, "cashier-reversed-"+lang)

		// The shop's QR code, paid by the simulated wallet.
		ref := showQR("12.34")
		cashier.waitResult("qr_sent", 5*time.Second)
		customerSays("qr_open", want.customerScan, true)
		customer.waitFor(`document.getElementById("qr").complete && document.getElementById("qr").naturalWidth > 100`, 5*time.Second, "QR image")
		if err := r.payQR(t, ref); err != nil {
			t.Fatalf("the wallet pays %s: %v", ref, err)
		}
		got = cashier.waitResult("qr_paid", 5*time.Second)
		mustContain(t, "paid QR", got, want.qrPaid, "12.34 CNY")
		customerSays("qr_paid", want.customerPaid, false)
		screenshot(t, cashier, "cashier-qr-paid-"+lang)
		screenshot(t, customer, "customer-qr-paid-"+lang)

		// Nobody pays: expired on both screens, and the wallet refuses a
		// payment that comes after.
		ref = showQR("5.00")
		customerSays("qr_open", want.customerScan, true)
		customer.waitFor(`document.getElementById("qr").complete && document.getElementById("qr").naturalWidth > 100`, 5*time.Second, "QR image")
		screenshot(t, customer, "customer-qr-order-"+lang)
		got = cashier.waitResult("qr_expired", qrTTL+10*time.Second)
		mustContain(t, "expired QR", got, want.qrExpired)
		customerSays("qr_expired", want.customerExpired, false)
		screenshot(t, cashier, "cashier-qr-expired-"+lang)
		waitClosed(t, r, ref)
		if err := r.payQR(t, ref); !errors.Is(err, wallet.ErrQRExpired) {
			t.Fatalf("payment of the expired %s: %v", ref, err)
		}
	}

	// The cashier cancels one; a payment after that is refused.
	ref := showQR("7.00")
	var hidden bool
	cashier.eval(`document.getElementById("cancelqr").hidden`, &hidden)
	if hidden {
		t.Fatal("no cancel button for an open QR order")
	}
	cashier.run("cancel the QR", chromedp.Click("#cancelqr", chromedp.ByID))
	cashier.waitResult("qr_cancelled", 5*time.Second)
	customerSays("qr_cancelled", "Ce code a été annulé", false)
	waitClosed(t, r, ref)
	if err := r.payQR(t, ref); !errors.Is(err, wallet.ErrQRClosed) {
		t.Fatalf("payment of the cancelled %s: %v", ref, err)
	}

	// Approved offline, declined by the platform afterwards: the screen
	// follows it and says it is the shop's loss.
	r.stopPlatform()
	cashier.pay("8.00", codeDecline)
	cashier.waitResult("approved_offline", 10*time.Second)
	r.startPlatform()
	got := cashier.waitResult("declined", 20*time.Second)
	mustContain(t, "offline payment declined later", got, "perte du magasin")

	// The day report counts the paid ones and lists the others.
	rep, err := r.co.Report(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.QR == nil || rep.QR.PaidCount != 3 || rep.QR.Paid != 3*1234 || len(rep.QR.Ended) != 4 {
		t.Fatalf("report's QR orders %+v", rep.QR)
	}
	if rep.Count != 3+3 || rep.Reversed != 3 {
		t.Fatalf("report: %d sales, %d reversed, want 6 (3 approved, 3 QR) and 3", rep.Count, rep.Reversed)
	}
}

// waitClosed waits until the platform has answered the order's cancel or
// expiry.
func waitClosed(t *testing.T, r *rig, ref string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := r.co.GetQR(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		if o.Closed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the platform did not answer the end of %s: %+v", ref, o)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
