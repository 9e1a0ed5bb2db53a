// Package browsertest starts Debian's Chromium headless for tests and
// drives it through the Chrome DevTools Protocol (chromedp). It never
// downloads a browser: the one the appliance's kiosk runs is the one the
// tests run.
package browsertest

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Chromium is the browser the tests run, from Debian's package chromium.
const Chromium = "/usr/bin/chromium"

// Width and Height are the size of a tab's page, that of the appliance's
// 1280x800 kiosk screen.
const (
	Width  = 1280
	Height = 800
)

// Browser is a headless Chromium with a fresh profile, stopped when the
// test ends.
type Browser struct {
	ctx    context.Context // the browser's first tab
	cancel context.CancelFunc
}

// Start starts Chromium for t. It fails the test if the browser is not
// installed or does not start.
func Start(t testing.TB) *Browser {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("browsertest: %s missing (apt-get install chromium): %v", Chromium, err)
	}
	// Not t.TempDir: Chromium's helper processes may still write to the
	// profile for a moment after the browser exits, which fails the test
	// in TempDir's cleanup.
	profile, err := os.MkdirTemp("", "browsertest-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// /dev/shm is small in containers; a crashed renderer would
		// look like a UI bug.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(Width, Height),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	// chromedp reports protocol events it cannot decode (a browser newer
	// than its protocol tables) as errors; they are noise unless a test
	// fails, so they go to the test log while the test runs.
	lg := &testLog{t: t}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(lg.logf))
	b := &Browser{ctx: ctx, cancel: func() { cancel(); cancelAlloc() }}
	t.Cleanup(func() {
		lg.stop()
		b.cancel()
		for i := 0; i < 40; i++ {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	// The first Run starts the browser process.
	if err := chromedp.Run(ctx, chromedp.ActionFunc(func(context.Context) error { return sctx.Err() })); err != nil {
		t.Fatalf("browsertest: start %s: %v", Chromium, err)
	}
	return b
}

// Tab opens a new tab, closed when the test ends. Actions run in it with
// chromedp.Run(tab, ...).
func (b *Browser) Tab(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	// The window's size includes the browser's own bars: set the page's
	// size to the screen's.
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(Width, Height)); err != nil {
		t.Fatalf("browsertest: open tab: %v", err)
	}
	return ctx
}

// Run runs actions in tab within d and fails the test on error, naming
// what it was doing.
func Run(t testing.TB, tab context.Context, d time.Duration, what string, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, d)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
}

// WaitFor waits up to d until the JavaScript expression is true in tab,
// failing the test with why and the text the page shows.
func WaitFor(t testing.TB, tab context.Context, expr string, d time.Duration, why string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, d+5*time.Second)
	defer cancel()
	var ok bool
	// Polling runs in animation frames, which a background tab does not
	// get: bring the tab to the front first.
	if err := chromedp.Run(ctx, cdppage.BringToFront(), chromedp.Poll(expr, &ok, chromedp.WithPollingTimeout(d))); err != nil {
		var body string
		chromedp.Run(tab, chromedp.Evaluate(`document.querySelector("main").innerText`, &body))
		t.Fatalf("%s: not seen within %v (%v); page shows:\n%s", why, d, err, body)
	}
}

// testLog forwards chromedp's messages to the test log until the test
// ends (logging after that panics).
type testLog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done || strings.Contains(format, "unhandled") {
		return
	}
	l.t.Logf("chromedp: "+format, args...)
}

func (l *testLog) stop() {
	l.mu.Lock()
	l.done = true
	l.mu.Unlock()
}
