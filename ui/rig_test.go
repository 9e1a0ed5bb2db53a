package ui_test

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/checkout/slip"
	"github.com/guichet/guichet/device/display"
	displaysim "github.com/guichet/guichet/device/display/sim"
	printersim "github.com/guichet/guichet/device/printer/sim"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/internal/browsertest"
	"github.com/guichet/guichet/internal/daemon"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/platform/authz"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/ui"
)

// Payment codes of the tests: WeChat Pay-style, 18 digits starting 13.
const (
	codeOK      = "134567890123456780"
	codeDecline = "134567890123456781" // on the test platform's decline list
	codeInvalid = "12345"              // too short for any scheme
)

// rig is the appliance's UI as guichetd wires it (internal/daemon), on a
// real outbox, a real link to a real Mosquitto, and an in-process
// platform: only the browser is outside.
type rig struct {
	broker *brokertest.Mosquitto
	store  *platform.Store
	ob     *outbox.Store
	lk     *link.Link
	co     *checkout.Service
	screen *displaysim.Display
	scans  *ui.Scans
	// drawer is the till's printer, which keeps the receipts it prints
	// and counts the openings of the drawer on its kick connector.
	drawer  *printersim.Printer
	http    *httptest.Server
	platKey ed25519.PrivateKey

	// rules are the platform's, whose simulated wallet pays QR orders.
	rules *authz.Rules

	mu       sync.Mutex
	platStop func()
}

// Timings of the rig's flow: the simulated customer confirms on the
// phone after rigConfirmAfter (codes starting 1555), the device reverses
// after rigConfirmTimeout (codes starting 1556 are never confirmed).
const (
	rigConfirmAfter   = time.Second
	rigConfirmTimeout = 3 * time.Second
)

// newRig starts everything but the platform. waitOnline is how long a
// payment waits for the platform before the device decides offline; opts
// change the flow before anything runs.
func newRig(t testing.TB, waitOnline time.Duration, opts ...func(*checkout.Service)) *rig {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	r := &rig{broker: brokertest.StartMosquitto(t), screen: displaysim.New(), scans: ui.NewScans(), drawer: printersim.New(printersim.Options{}),
		rules: &authz.Rules{DeclineCodes: []string{codeDecline}, MaxAmount: 500000, ConfirmAfter: rigConfirmAfter}}
	_, r.platKey, _ = ed25519.GenerateKey(nil)
	_, devKey, _ := ed25519.GenerateKey(nil)
	var err error
	if r.store, err = platform.OpenStore(filepath.Join(dir, "platform.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.store.Close() })
	if err := r.store.Enrol(context.Background(), "shop1", "till1", devKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if r.ob, err = outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Identity{Tenant: "shop1", Device: "till1", Key: devKey}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.ob.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	r.co = &checkout.Service{Store: r.ob, Currency: "CNY", WaitOnline: waitOnline, Log: log,
		OfflinePerTransaction: 10000, OfflineTotal: 100000, Drawer: r.drawer,
		PollEvery: 200 * time.Millisecond, ConfirmTimeout: rigConfirmTimeout,
		QRMerchant: checkout.Merchant{Name: "GUICHET TEST", City: "NANNING", MCC: "5411", Country: "CN", AccountGUI: "com.example.guichet", AccountID: "M1"},
		OnChange: func(p checkout.Payment) {
			r.screen.Show(ctx, display.Screen{Lines: []string{checkout.FormatMinor(p.Amount, p.Currency) + " " + p.Currency}, Status: p.Status})
		},
		OnQRChange: func(o checkout.QROrder) {
			if scr, ok := daemon.QRScreen(o); ok {
				r.screen.Show(ctx, scr)
			}
		}}
	for _, o := range opts {
		o(r.co)
	}
	rt := link.NewRouter()
	rt.HandleResults(r.co.OnResult, checkout.ResultTypes...)
	rt.HandleResults(r.co.OnQRResult, checkout.QRResultTypes...)
	rt.HandleCommands(r.co.ApplyCommand, checkout.Commands...)
	r.lk, err = link.New(link.Config{Tenant: "shop1", Device: "till1", Brokers: []string{r.broker.URL()},
		PlatformKey: r.platKey.Public().(ed25519.PublicKey), Window: 100, AckTimeout: time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, KeepAlive: 5 * time.Second,
		Logger: log, Router: rt}, r.ob)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ui.Server{Checkout: r.co, Till: r.co, Cash: r.co, Finder: r.co, Receipts: &slip.Slips{Service: r.co, Printer: r.drawer}, Screen: r.screen, QR: r.co, SyncNow: r.lk.SyncNow, Scans: r.scans,
		Languages: []string{"zh", "en", "fr"}, Log: log,
		Status: func() any {
			return daemon.Status{Device: "till1", Tenant: "shop1", Hardware: "sim", Queue: r.ob.Stats(), Link: r.lk.Status()}
		},
		Staff: seedStaff(t, r.ob)}
	r.http = httptest.NewServer(srv.Handler())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.lk.Run(ctx) }()
	go func() { defer wg.Done(); r.co.Run(ctx) }()
	t.Cleanup(func() {
		r.stopPlatform()
		// The page's long polls hold connections: close them, then the link.
		r.http.CloseClientConnections()
		r.http.Close()
		cancel()
		wg.Wait()
	})
	return r
}

// startPlatform starts a platform instance on the broker.
func (r *rig) startPlatform() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.platStop != nil {
		return
	}
	srv := platform.NewServer(platform.ServerConfig{Instance: "p1", Brokers: []string{r.broker.URL()}, Key: r.platKey,
		BatchMax: 100, BatchDelay: time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
		r.store, r.rules)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	r.platStop = func() { cancel(); wg.Wait() }
}

// stopPlatform stops the platform instance, if one runs.
func (r *rig) stopPlatform() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.platStop != nil {
		r.platStop()
		r.platStop = nil
	}
}

// browser starts a browser signed in as the cashier, through the sign-in
// screen: its tabs share the session cookie.
func (r *rig) browser(t *testing.T) *browsertest.Browser {
	t.Helper()
	b := browsertest.Start(t)
	r.signIn(t, b, cashierID, cashierPIN)
	return b
}

// signIn signs id in on the sign-in screen of a tab of b.
func (r *rig) signIn(t *testing.T, b *browsertest.Browser, id, pin string) {
	t.Helper()
	p := open(t, b, r.url("/signin.html?next=/index.html"))
	p.run("sign in as "+id, clear("cashier"), chromedp.SendKeys("#cashier", id, chromedp.ByID),
		clear("pin"), chromedp.SendKeys("#pin", pin, chromedp.ByID), chromedp.Click("#signin-submit", chromedp.ByID),
		// A query waits across the navigation to the cashier's page.
		chromedp.WaitReady(`#who[data-id=`+strconv.Quote(id)+`]`, chromedp.ByQuery),
		// Leave the page: another tab of the till's would follow the
		// tests' language changes (storage events) and race them.
		chromedp.Navigate("about:blank"))
}

// supervise fills the supervisor's dialog that the last click opened, and
// approves.
func (p *page) supervise(id, pin string) {
	p.t.Helper()
	p.waitFor(`document.getElementById("supervisor")?.open === true`, 10*time.Second, "the supervisor's dialog")
	p.run("supervisor "+id+" approves", chromedp.Evaluate(`document.getElementById("result")?.removeAttribute("data-status")`, nil), clear("svid"), chromedp.SendKeys("#svid", id, chromedp.ByID),
		clear("svpin"), chromedp.SendKeys("#svpin", pin, chromedp.ByID), chromedp.Click("#svok", chromedp.ByID))
}

// url is the address of a page or API path of the UI.
func (r *rig) url(path string) string { return r.http.URL + path }

// waitLinkUp waits until the link is connected to the broker.
func (r *rig) waitLinkUp(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !r.lk.Status().Connected {
		if time.Now().After(deadline) {
			t.Fatal("link not connected to the broker after 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// payQR has the simulated wallet pay QR order ref, as a customer scanning
// it would, and notify the till, as `guichet-platform wallet pay` does.
func (r *rig) payQR(t testing.TB, ref string) error {
	t.Helper()
	_, err := r.rules.PayQR(context.Background(), platform.PublishConfig{Brokers: []string{r.broker.URL()}, Key: r.platKey, Timeout: 10 * time.Second},
		r.store, ref, 10*time.Second)
	return err
}
