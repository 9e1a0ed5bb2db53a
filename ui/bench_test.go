package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/internal/browsertest"
)

// benchPayments is how many payments each figure is the median of.
const benchPayments = 20

// watchResultJS marks, in the page, the time at which an approved result
// for a new payment is drawn: the animation frame after the result line
// changes is the one that paints it.
const watchResultJS = `{
  const r = document.getElementById("result");
  window.__seen = r.dataset.id || "";
  window.__drawn = 0;
  new MutationObserver(() => {
    if (r.dataset.status === "approved" && r.dataset.id && r.dataset.id !== window.__seen) {
      window.__seen = r.dataset.id;
      requestAnimationFrame(() => { window.__drawn = performance.timeOrigin + performance.now(); });
    }
  }).observe(r, {attributes: true, childList: true, characterData: true, subtree: true});
}`

// BenchmarkScanToResult measures scan_to_result_ms: from a code arriving
// from a scanner (Scans.Add) with the amount already typed, to the
// approved result drawn in the cashier's page in Chromium, through the
// real flow, outbox, link, local Mosquitto and in-process reference
// platform. Anchor api_pay_ms: the same payment through POST /api/pay
// without the browser.
func BenchmarkScanToResult(b *testing.B) {
	r := newRig(b, 5*time.Second)
	r.startPlatform()
	r.waitLinkUp(b)
	br := browsertest.Start(b)
	tab := br.Tab(b)
	browsertest.Run(b, tab, 30*time.Second, "sign in",
		chromedp.Navigate(r.url("/signin.html?next=/index.html")),
		chromedp.SendKeys("#cashier", cashierID, chromedp.ByID), chromedp.SendKeys("#pin", cashierPIN, chromedp.ByID),
		chromedp.Click("#signin-submit", chromedp.ByID), chromedp.WaitReady(`#who[data-id="`+cashierID+`"]`, chromedp.ByQuery))
	browsertest.Run(b, tab, 30*time.Second, "open cashier page",
		chromedp.Navigate(r.url("/index.html")),
		chromedp.WaitReady("#pay", chromedp.ByQuery),
		cdppage.BringToFront(),
		chromedp.SendKeys("#amount", "12.34", chromedp.ByID),
		chromedp.Evaluate(watchResultJS, nil))
	// The page must have asked for scans before the first one comes.
	time.Sleep(500 * time.Millisecond)

	code := func(i int) string { return fmt.Sprintf("14%016d", 1000+i) }
	var scan []float64
	for i := 0; i < benchPayments+2; i++ {
		var before int
		browsertest.Run(b, tab, 10*time.Second, "reset", chromedp.Evaluate(`window.__drawn = 0`, &before))
		t0 := time.Now()
		r.scans.Add(codereader.Code{Format: "CODE_128", Text: code(i), Source: "bench", At: t0})
		var drawn float64
		ctx, cancel := context.WithTimeout(tab, 15*time.Second)
		err := chromedp.Run(ctx, chromedp.Poll(`window.__drawn`, &drawn, chromedp.WithPollingTimeout(10*time.Second)))
		cancel()
		if err != nil {
			var shown string
			chromedp.Run(tab, chromedp.Evaluate(`document.querySelector("main").innerText + " | code=" + document.getElementById("code").value + " amount=" + document.getElementById("amount").value`, &shown))
			b.Fatalf("payment %d: approved result not drawn: %v; page shows %s", i, err, shown)
		}
		if i >= 2 { // the first payments warm up connections and caches
			scan = append(scan, drawn-float64(t0.UnixNano())/1e6)
		}
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Timeout: 10 * time.Second, Jar: jar}
	if resp, err := client.Post(r.url("/api/signin"), "application/json", strings.NewReader(`{"cashier":"`+cashierID+`","pin":"`+cashierPIN+`"}`)); err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("sign-in: %v %v", resp, err)
	}
	var api []float64
	for i := 0; i < benchPayments+2; i++ {
		body, _ := json.Marshal(map[string]string{"amount": "12.34", "code": code(100 + i)})
		t0 := time.Now()
		resp, err := client.Post(r.url("/api/pay"), "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		var p checkout.Payment
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil || p.Status != checkout.StatusApproved {
			b.Fatalf("POST /api/pay: %v, status %q", err, p.Status)
		}
		if i >= 2 {
			api = append(api, float64(d.Microseconds())/1000)
		}
	}
	ps, err := r.co.Recent(context.Background(), 200)
	if err != nil || len(ps) != 2*(benchPayments+2) {
		b.Fatalf("%d payments in the ledger (%v), want %d", len(ps), err, 2*(benchPayments+2))
	}
	benchfig.Report(b, "scan_to_result_ms", median(scan), "ms")
	benchfig.Report(b, "api_pay_ms", median(api), "ms")
	b.Logf("scan_to_result_ms: %v", rounded(scan))
	b.Logf("api_pay_ms: %v", rounded(api))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

func rounded(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(int(x*10)) / 10
	}
	return out
}
