package ui_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/internal/browsertest"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/ui"
)

type jammedDrawer struct{}

func (jammedDrawer) OpenDrawer(context.Context) error { return errors.New("printer offline") }

// TestCashAndLookupAPI plays the cash and lookup routes with what a
// hostile page or a stray scan sends.
func TestCashAndLookupAPI(t *testing.T) {
	_, k, _ := ed25519.GenerateKey(nil)
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "o.db"), outbox.Identity{Tenant: "t", Device: "d", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	co := &checkout.Service{Store: ob, Currency: "CNY", WaitOnline: time.Millisecond, Drawer: jammedDrawer{},
		Log: slog.New(slog.DiscardHandler)}
	// The socket's handler: the routes without the session (hostile_test.go
	// tests the session); a refund still needs the supervisor.
	srv := httptest.NewServer((&ui.Server{Checkout: co, Till: co, Cash: co, Finder: co, Currency: "CNY", Staff: seedStaff(t, ob)}).LocalHandler())
	defer srv.Close()
	call := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		json.NewDecoder(res.Body).Decode(&v)
		return res.StatusCode, v
	}
	// A cash sale whose drawer did not open is stored and answered so.
	code, p := call("POST", "/api/pay/cash", `{"amount": "12.50"}`)
	if code != http.StatusOK || p["status"] != checkout.StatusApproved || p["scheme"] != checkout.SchemeCash ||
		!strings.Contains(p["drawer_error"].(string), "printer offline") {
		t.Fatalf("cash sale: %d %v", code, p)
	}
	id := p["id"].(string)
	for _, body := range []string{`{"amount": "0"}`, `{"amount": "-1"}`, `{"amount": "1e9"}`, `{"amount": "12.345"}`, `{"amount": 12}`, `not json`, `{"amount": "1", "code": "x"` /* cut */} {
		if code, v := call("POST", "/api/pay/cash", body); code != http.StatusBadRequest {
			t.Errorf("cash sale %s: %d %v", body, code, v)
		}
	}
	// The drawer's failure on a refund leaves the refund made.
	if code, v := call("POST", "/api/payments/"+id+"/refund", `{"amount": "2.50", "supervisor": "`+supervisorID+`", "supervisor_pin": "`+supervisorPIN+`"}`); code != http.StatusOK || v["refunded"] != 250.0 || v["drawer_error"] == nil {
		t.Fatalf("cash refund: %d %v", code, v)
	}

	for _, c := range []struct {
		ref  string
		want int
	}{
		{id, http.StatusOK},
		{strings.ToUpper(id) + "\r\n", http.StatusOK},
		{"pay-0000000000000-000000000000", http.StatusNotFound},
		{"", http.StatusBadRequest},
		{"pay-1", http.StatusBadRequest},
		{"../" + id, http.StatusBadRequest},
		{id + "' OR '1'='1", http.StatusBadRequest},
		{"134567890123456780", http.StatusBadRequest},
		{"\x00\xff<script>", http.StatusBadRequest},
		{strings.Repeat("pay-", 5000), http.StatusBadRequest},
	} {
		code, v := call("GET", "/api/lookup?ref="+url.QueryEscape(c.ref), "")
		if code != c.want || c.want == http.StatusOK && v["id"] != id {
			t.Errorf("lookup %.40q: %d %v, want %d", c.ref, code, v, c.want)
		}
		if s, _ := v["error"].(string); strings.Contains(s, "<script>") {
			t.Errorf("lookup %.40q: error echoes the input: %q", c.ref, s)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/day/payments", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list []checkout.Payment
	json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	if len(list) != 1 || list[0].ID != id {
		t.Fatalf("day's list %+v", list)
	}
	if code, _ := call("GET", "/api/day/payments?day=tomorrow", ""); code != http.StatusBadRequest {
		t.Fatalf("day's list of a bad day: %d", code)
	}
}

// screenshot checks a page's screenshot and, with -screens, writes it to
// docs/screens/name.png.
func screenshot(t *testing.T, p *page, name string) {
	t.Helper()
	p.waitFor(`document.readyState === "complete" && document.fonts.status === "loaded"`, 5*time.Second, "page settled")
	time.Sleep(300 * time.Millisecond)
	var buf []byte
	p.run("screenshot "+name, cdppage.BringToFront(), chromedp.CaptureScreenshot(&buf))
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("%s: screenshot is not a PNG: %v", name, err)
	}
	if sz := img.Bounds().Size(); sz.X != browsertest.Width || sz.Y != browsertest.Height {
		t.Fatalf("%s: screenshot %v, want %dx%d", name, sz, browsertest.Width, browsertest.Height)
	}
	if *writeScreens {
		if err := os.WriteFile(filepath.Join(brokertest.Root(t), "docs", "screens", name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// inLanguages takes the screenshot name-LANG of the page in Chinese,
// English and French, once the page shows want(LANG).
func inLanguages(t *testing.T, p *page, name string, want func(lang string) string) {
	t.Helper()
	for _, l := range []string{"zh", "en", "fr"} {
		p.setLang(l)
		p.waitFor(want(l), 5*time.Second, name+" in "+l)
		screenshot(t, p, name+"-"+l)
	}
}

// payCash types the amount and clicks the cash button.
func (p *page) payCash(amount string) {
	p.t.Helper()
	p.run("take cash",
		chromedp.Evaluate(`document.getElementById("result").removeAttribute("data-status")`, nil),
		clear("amount"),
		chromedp.SendKeys("#amount", amount, chromedp.ByID),
		chromedp.Click("#cash", chromedp.ByID))
}

// TestCashSaleInBrowser takes a cash sale on the cashier's page: approved
// at once, the drawer kicked, the day's report with the cash apart.
func TestCashSaleInBrowser(t *testing.T) {
	r := newRig(t, 2*time.Second)
	// No platform: a cash sale needs none.
	b := r.browser(t)
	cashier := open(t, b, r.url("/index.html"))
	cashier.setLang("en")
	cashier.payCash("25.00")
	got := cashier.waitResult("approved", 10*time.Second)
	mustContain(t, "result", got, "Paid", "25.00 CNY", "Cash")
	if n := r.drawer.Openings(); n != 1 {
		t.Fatalf("drawer opened %d times", n)
	}
	var id string
	cashier.eval(`document.getElementById("result").dataset.id`, &id)
	if p, err := r.co.Get(context.Background(), id); err != nil || p.Scheme != checkout.SchemeCash || p.Status != checkout.StatusApproved {
		t.Fatalf("stored %+v %v", p, err)
	}
	cashier.waitFor(`document.querySelector("#recent tbody tr")?.textContent.includes("Cash")`, 5*time.Second, "cash sale in the recent list")
	inLanguages(t, cashier, "cashier-cash", func(l string) string {
		return `document.getElementById("result").textContent.includes(` + map[string]string{"zh": `"现金"`, "en": `"Cash"`, "fr": `"Espèces"`}[l] + `)`
	})
	// An empty amount is refused on the page: nothing stored, no drawer.
	n := len(recent(t, r))
	// The click's handler refuses before any await: had it sent the sale,
	// the result line would say "sending" when the click returns.
	var status string
	cashier.run("cash without an amount", clear("amount"), chromedp.Click("#cash", chromedp.ByID),
		chromedp.Evaluate(`document.getElementById("result").dataset.status`, &status))
	if status != "approved" || len(recent(t, r)) != n || r.drawer.Openings() != 1 {
		t.Fatal("a cash sale without an amount was taken")
	}

	day := open(t, b, r.url("/day.html"))
	day.setLang("en")
	day.waitFor(`document.getElementById("report").dataset.cash === "2500" && document.getElementById("report").textContent.includes("Cash sales")`, 10*time.Second, "cash in the report")
	mustContain(t, "report", day.text("#report"), "Cash sales", "25.00 (1)", "Wallet sales", "0.00 (0)", "Cash in the drawer")
}

// TestRefundPickedFromDayList refunds a cash sale picked in the day's
// list: the drawer opens, the report counts the cash paid back.
func TestRefundPickedFromDayList(t *testing.T) {
	r := newRig(t, 2*time.Second)
	b := r.browser(t)
	cashier := open(t, b, r.url("/index.html"))
	cashier.payCash("40.00")
	cashier.waitResult("approved", 10*time.Second)
	var id string
	cashier.eval(`document.getElementById("result").dataset.id`, &id)

	day := open(t, b, r.url("/day.html"))
	day.setLang("fr")
	row := `#payments tr[data-id="` + id + `"]`
	day.waitFor(`document.querySelector('`+row+`') !== null`, 10*time.Second, "the sale in the day's list")
	// The list is redrawn as the page refreshes it: click the row's button
	// as it is at that moment (a node found before a redraw is gone).
	day.waitFor(`(() => { const b = document.querySelector('`+row+` button.pick');
		if (b && document.getElementById("sel").dataset.id !== "`+id+`") b.click();
		return document.getElementById("sel").dataset.id === "`+id+`"; })()`, 10*time.Second, "the sale picked")
	day.waitFor(`document.getElementById("sel").dataset.id === "`+id+`" && document.getElementById("ramount").value === "40.00"`, 5*time.Second, "sale selected, its amount to refund")
	day.run("refund 15.00", clear("ramount"), chromedp.SendKeys("#ramount", "15.00", chromedp.ByID), chromedp.Click("#dorefund", chromedp.ByID))
	day.supervise(supervisorID, supervisorPIN)
	day.waitFor(`document.getElementById("report").dataset.cashDrawer === "2500"`, 10*time.Second, "25.00 left in the drawer")
	if n := r.drawer.Openings(); n != 2 {
		t.Fatalf("drawer opened %d times, want the sale's and the refund's", n)
	}
	if p, _ := r.co.Get(context.Background(), id); p.Refunded != 1500 || p.Refunds[0].Status != checkout.ResultRefunded {
		t.Fatalf("after the refund %+v", p)
	}
	day.waitFor(`document.getElementById("ramount").value === "25.00"`, 5*time.Second, "what is left to refund")
	inLanguages(t, day, "day-refund-picked", func(l string) string {
		return `document.querySelector("#report").textContent.includes(` + map[string]string{"zh": `"现金退款"`, "en": `"Cash refunds"`, "fr": `"Remboursements en espèces"`}[l] + `)`
	})
	// The receipt printed again, with the refund on it.
	day.run("print the receipt", chromedp.Click("#doprint", chromedp.ByID))
	// The page is in French, the last language of the screenshots.
	day.waitFor(`document.getElementById("result").textContent.includes("Ticket imprimé")`, 10*time.Second, "receipt printed")
	slips := r.drawer.Slips()
	if len(slips) != 1 || !strings.Contains(slips[0].Text(48), "[QR "+id+"]") || !strings.Contains(slips[0].Text(48), "-15.00") {
		t.Fatalf("printed %d slips: %v", len(slips), slips)
	}
	day.setLang("en")
	day.run("scroll to the report", chromedp.Evaluate(`document.getElementById("report").scrollIntoView()`, nil))
	day.waitFor(`document.getElementById("report").textContent.includes("Cash in the drawer")`, 5*time.Second, "report in English")
	mustContain(t, "report", day.text("#report"), "Wallet sales0.00 (0)", "Cash sales40.00 (1)", "Cash refunds15.00", "Cash in the drawer (beyond the float)25.00")
	screenshot(t, day, "day-report-cash-en")
}

// TestVoidFoundByScanningReceipt voids a wallet payment found by scanning
// its receipt's QR code: on the cashier's page, which sends it to the day
// page, and on the day page itself.
func TestVoidFoundByScanningReceipt(t *testing.T) {
	r := newRig(t, 3*time.Second)
	r.startPlatform()
	r.waitLinkUp(t)
	b := r.browser(t)
	cashier := open(t, b, r.url("/index.html"))
	cashier.pay("18.80", codeOK)
	cashier.waitResult("approved", 10*time.Second)
	var id string
	cashier.eval(`document.getElementById("result").dataset.id`, &id)
	cashier.pay("6.00", codeOK)
	cashier.waitResult("approved", 10*time.Second)
	n := len(recent(t, r))

	// The receipt's QR code holds the payment's id (checkout/slip).
	cashier.setLang("en")
	r.scans.Add(codereader.Code{Format: "QR_CODE", Text: id, Source: "camera", At: time.Now()})
	// The page navigates: wait on the DOM, which outlives it, first.
	cashier.run("day page shown", chromedp.WaitVisible(`#sel:not([hidden])`, chromedp.ByQuery))
	cashier.waitFor(`location.pathname === "/day.html" && document.getElementById("sel")?.dataset.id === "`+id+`"`, 10*time.Second, "receipt scanned at the till opens it on the day page")
	if len(recent(t, r)) != n {
		t.Fatal("a scanned receipt was taken for a payment code")
	}
	day := cashier
	day.run("void it", chromedp.Click("#dovoid", chromedp.ByID))
	day.supervise(supervisorID, supervisorPIN)
	day.waitFor(`document.getElementById("sel").dataset.status === "voided"`, 15*time.Second, "voided")
	day.waitFor(`document.getElementById("report").dataset.net === "600"`, 15*time.Second, "net 6.00 after the void")
	if p, _ := r.co.Get(context.Background(), id); p.Status != checkout.StatusVoided {
		t.Fatalf("after the void %+v", p)
	}
	if r.drawer.Openings() != 0 {
		t.Fatal("a wallet payment's void opened the drawer")
	}

	// On the day page, a scan selects the payment; a payment code scanned
	// there selects nothing.
	day.run("reload", chromedp.Reload(), chromedp.WaitReady("body", chromedp.ByQuery))
	// The page's scan feed starts from the scan current when it loaded.
	day.waitFor(`document.body.dataset.scanFeed !== undefined`, 10*time.Second, "scan feed started")
	r.scans.Add(codereader.Code{Format: "QR_CODE", Text: codeOK, Source: "camera", At: time.Now()})
	day.waitResult("error", 10*time.Second)
	var second string
	for _, p := range mustRecent(t, r) {
		if p.ID != id {
			second = p.ID
		}
	}
	r.scans.Add(codereader.Code{Format: "QR_CODE", Text: second, Source: "camera", At: time.Now()})
	day.waitFor(`document.getElementById("sel").dataset.id === "`+second+`"`, 10*time.Second, "receipt scanned on the day page")
	// The reference typed, as a keyboard scanner types it.
	day.run("type the reference", chromedp.SendKeys("#ref", strings.ToUpper(id)+"\n", chromedp.ByID))
	day.waitFor(`document.getElementById("sel").dataset.id === "`+id+`"`, 10*time.Second, "reference typed")
	inLanguages(t, day, "day-void-scanned", func(l string) string {
		return `document.getElementById("sel").textContent.includes(` + map[string]string{"zh": `"已撤销"`, "en": `"Voided"`, "fr": `"Annulé"`}[l] + `)`
	})
}

func mustRecent(t *testing.T, r *rig) []checkout.Payment {
	t.Helper()
	ps, err := r.co.Recent(context.Background(), 200)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}
