package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/internal/browsertest"
)

var writeScreens = flag.Bool("screens", false, "write the e-ID screenshots to docs/screens")

// tab is a Chromium tab on one of the daemon's pages.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (p *tab) run(what string, actions ...chromedp.Action) {
	p.t.Helper()
	browsertest.Run(p.t, p.ctx, 30*time.Second, what, actions...)
}

func (p *tab) waitFor(expr string, d time.Duration, why string) {
	p.t.Helper()
	browsertest.WaitFor(p.t, p.ctx, expr, d, why)
}

func (p *tab) text(sel string) string {
	p.t.Helper()
	var s string
	p.run("read "+sel, chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).textContent`, sel), &s))
	return s
}

// screenshot checks that the page renders and, with -screens, keeps it.
func (p *tab) screenshot(name string) {
	p.t.Helper()
	var buf []byte
	p.run("screenshot "+name, cdppage.BringToFront(), chromedp.CaptureScreenshot(&buf))
	if _, err := png.DecodeConfig(bytes.NewReader(buf)); err != nil {
		p.t.Fatalf("%s: not a PNG: %v", name, err)
	}
	if *writeScreens {
		if err := os.WriteFile(filepath.Join(brokertest.Root(p.t), "docs", "screens", name), buf, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
}

// TestEIDPagesInChromium has an official do an activation on the counter's
// page in Chromium, in French, then a hotel clerk verify an e-ID code on the
// verification page, against a running guichetd, platform and broker.
func TestEIDPagesInChromium(t *testing.T) {
	r := newEIDRig(t)
	r.StartPlatform()
	r.StartDaemon()
	pinFile := filepath.Join(r.Dir, "pin")
	write(t, pinFile, officialPIN+"\n")
	r.Run("guichet", "--config", r.DevConf, "official", "set-pin", "--id", official, "--pin-file", pinFile)
	base := fmt.Sprintf("http://127.0.0.1:%d", r.UIPort)
	b := browsertest.Start(t)

	p := &tab{t: t, ctx: b.Tab(t)}
	p.run("open the counter", chromedp.Navigate(base+"/eid.html"), chromedp.WaitVisible("#signin", chromedp.ByID),
		chromedp.Evaluate(`setLang("fr")`, nil))
	p.run("sign in with a wrong PIN",
		chromedp.SendKeys("#official", official, chromedp.ByID),
		chromedp.SendKeys("#pin", "000000", chromedp.ByID),
		chromedp.Click("#signin-btn", chromedp.ByID))
	p.waitFor(`!document.getElementById("error").hidden`, 10*time.Second, "the wrong PIN refused")
	if !document(p, "#signin") {
		t.Fatal("signed in with a wrong PIN")
	}
	p.run("sign in",
		chromedp.Evaluate(`document.getElementById("pin").value = ""`, nil),
		chromedp.SendKeys("#pin", officialPIN, chromedp.ByID),
		chromedp.Click("#signin-btn", chromedp.ByID))
	p.waitFor(`document.body.dataset.step === "ready"`, 10*time.Second, "signed in")
	if who := p.text("#who"); who != official {
		t.Fatalf("signed in as %q", who)
	}
	p.run("begin", chromedp.Click("#begin", chromedp.ByID))
	p.waitFor(`document.body.dataset.step === "card"`, 10*time.Second, "waiting for the card")
	p.run("read the card", chromedp.Click("#read", chromedp.ByID))
	p.waitFor(`document.body.dataset.step === "review"`, 60*time.Second, "the face check done")
	if s := p.text("#live"); !strings.HasPrefix(s, "réussie") {
		t.Fatalf("liveness shown as %q", s)
	}
	var canConfirm bool
	p.run("confirm enabled", chromedp.Evaluate(`!document.getElementById("confirm").disabled && document.getElementById("score").dataset.match === "true"`, &canConfirm))
	if !canConfirm {
		t.Fatalf("cannot confirm a matching live face; score %q", p.text("#score"))
	}
	p.screenshot("eid-review.png")
	p.run("confirm", chromedp.Click("#confirm", chromedp.ByID))
	p.waitFor(`document.body.dataset.step === "activated"`, 30*time.Second, "activated")
	if s := p.text("#prompt"); s != "Activée" {
		t.Fatalf("prompt %q, want the French for activated", s)
	}
	p.screenshot("eid-activated.png")

	// The verification page, with the lists pushed by the platform.
	ks, _ := os.ReadFile(filepath.Join(r.issuer, "keyset.cose"))
	args, _ := json.Marshal(map[string][]byte{"keyset": ks})
	f := filepath.Join(r.Dir, "lists.json")
	write(t, f, string(args))
	r.Run("guichet-platform", "--config", r.PlatConf, "push", "--tenant", "shop-1", "--device", "till-1", "--name", "eid_lists", "--args-file", f)
	r.Eventually(20*time.Second, "the key set", func() bool { return strings.Contains(r.Log("guichetd"), "eid key set loaded") })
	good := strings.TrimSpace(r.Run("guichet", "eid", "issue", "--dir", r.issuer, "--level", "full"))
	v := &tab{t: t, ctx: b.Tab(t)}
	v.run("open verify", chromedp.Navigate(base+"/verify.html"), chromedp.WaitVisible("#text", chromedp.ByID),
		chromedp.Evaluate(`setLang("en")`, nil))
	v.run("scan a code", chromedp.SendKeys("#text", good+"\r", chromedp.ByID))
	v.waitFor(`document.getElementById("verdict").dataset.valid === "true"`, 10*time.Second, "the code valid")
	if lvl := v.text("#level"); !strings.HasPrefix(lvl, "full") {
		t.Fatalf("level shown %q", lvl)
	}
	v.screenshot("eid-verify.png")
	altered := good[:len(good)-3] + "AAA"
	v.run("scan an altered code", chromedp.Evaluate(`document.getElementById("text").value = ""`, nil), chromedp.SendKeys("#text", altered+"\r", chromedp.ByID))
	v.waitFor(`document.getElementById("verdict").dataset.valid === "false"`, 10*time.Second, "the altered code refused")
	if s := v.text("#verdict"); !strings.HasPrefix(s, "Refused · ") {
		t.Fatalf("verdict shown %q", s)
	}
}

// document reports whether the element is shown.
func document(p *tab, sel string) bool {
	var shown bool
	p.run("is "+sel+" shown", chromedp.Evaluate(fmt.Sprintf(`!document.querySelector(%q).hidden`, sel), &shown))
	return shown
}
