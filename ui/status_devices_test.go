package ui_test

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/internal/browsertest"
	"github.com/guichet/guichet/internal/daemon"
	"github.com/guichet/guichet/internal/health"
	"github.com/guichet/guichet/ui"
)

// The status page lists each peripheral, ok or degraded with what to
// check, in the page's language; a banner stands while one is degraded
// and goes when it recovers.
func TestStatusPageDevices(t *testing.T) {
	board := health.NewBoard()
	board.Add("devices.code_readers[0]", "serial")
	board.Add("devices.printer", "escpos")
	board.Add("devices.display", "sim")
	srv := &ui.Server{Languages: []string{"zh", "en", "fr"}, Log: slog.New(slog.DiscardHandler), Scans: ui.NewScans(),
		Status: func() any {
			return daemon.Status{Device: "till1", Tenant: "shop1", Hardware: "real", Devices: daemon.DeviceStates(board.Devices())}
		}}
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(h.Close)
	b := browsertest.Start(t)
	p := open(t, b, h.URL+"/status.html")
	p.setLang("zh")
	p.waitFor(`document.getElementById("dev-devices-printer")?.dataset.state === "ok"`, 5*time.Second, "printer ok")
	var hidden bool
	p.eval(`document.getElementById("degraded").hidden`, &hidden)
	if !hidden {
		t.Fatal("banner shown with every device ok")
	}

	board.Fail("devices.printer", "out of paper")
	board.Fail("devices.code_readers[0]", "not answering: check its cable and power")
	p.waitFor(`document.getElementById("dev-devices-printer").dataset.state === "degraded" && !document.getElementById("degraded").hidden`, 5*time.Second, "printer degraded, banner up")
	mustContain(t, "printer line", p.text("#dev-devices-printer"), "打印机", "异常", "缺纸")
	mustContain(t, "scanner line", p.text("#dev-devices-code-readers-0-"), "扫码器 1", "无响应")
	statusShot(t, p, "status-degraded-zh")
	p.setLang("en")
	p.waitFor(`document.getElementById("dev-devices-printer").textContent.includes("out of paper")`, 5*time.Second, "English hint")
	mustContain(t, "scanner line", p.text("#dev-devices-code-readers-0-"), "Scanner 1 (serial): degraded", "check its cable")
	statusShot(t, p, "status-degraded-en")
	p.setLang("fr")
	p.waitFor(`document.getElementById("dev-devices-printer").textContent.includes("plus de papier")`, 5*time.Second, "French hint")
	mustContain(t, "banner", p.text("#degraded"), "Mode dégradé")
	statusShot(t, p, "status-degraded-fr")

	// Back by itself: the page follows.
	board.OK("devices.printer")
	board.OK("devices.code_readers[0]")
	p.waitFor(`document.getElementById("dev-devices-printer").dataset.state === "ok" && document.getElementById("degraded").hidden`, 5*time.Second, "recovered, banner gone")
}

// statusShot takes a screenshot, written to docs/screens with -screens.
func statusShot(t *testing.T, p *page, name string) {
	t.Helper()
	p.waitFor(`document.readyState === "complete" && document.fonts.status === "loaded"`, 5*time.Second, "page settled")
	var buf []byte
	p.run("screenshot "+name, cdppage.BringToFront(), chromedp.CaptureScreenshot(&buf))
	if !bytes.HasPrefix(buf, []byte("\x89PNG")) {
		t.Fatalf("%s: not a PNG", name)
	}
	if *writeScreens {
		if err := os.WriteFile(filepath.Join(brokertest.Root(t), "docs", "screens", name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
