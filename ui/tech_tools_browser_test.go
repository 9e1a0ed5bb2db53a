package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/internal/browsertest"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

// techPage signs a browser's tab in as the technician (POST
// /api/tech/signin from the appliance's origin, as the sign-in page
// does) and opens path.
func (r *techRig) techPage(t *testing.T, b *browsertest.Browser, path string) *page {
	t.Helper()
	p := open(t, b, r.http.URL+"/i18n.js")
	var status int
	p.run("technician signs in", chromedp.Evaluate(fmt.Sprintf(`fetch("/api/tech/signin", {method: "POST", headers: {"Content-Type": "application/json"},
		body: JSON.stringify({technician: %q, pin: %q})}).then(r => r.status)`, technicianID, technicianPIN), &status,
		func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	if status != 200 {
		t.Fatalf("technician sign-in from the page: %d", status)
	}
	p.run("open "+path, chromedp.Navigate(r.http.URL+path), chromedp.WaitReady("body", chromedp.ByQuery))
	p.waitFor(`document.getElementById("who")?.dataset.id === `+fmt.Sprintf("%q", technicianID), 10*time.Second, "the technician's name in the header")
	return p
}

// TestTechLogsPage: the page shows the redacted logs and the rejected
// record blocking the queue; the technician moves past it with a reason,
// and the page shows the queue moving and the audit entry.
func TestTechLogsPage(t *testing.T) {
	r := newTechRig(t, nil)
	ctx := context.Background()
	for i := range 3 {
		if _, err := r.ob.Append(ctx, outbox.Record{Key: fmt.Sprintf("k-%d", i), Type: "test", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	id := r.ob.Identity()
	if err := r.ob.NoteRejections(ctx, id, []envelope.Reject{{Seq: 1, Reason: "prev hash does not match the platform's", Code: envelope.RejectChain}}); err != nil {
		t.Fatal(err)
	}
	r.log.Info("link connected", "broker", "tls://mqtt.example:8883", "device", "till1")
	r.log.Warn("payment declined", "seq", 1, "name", "Marie Curie", "code", "134567890123456781")
	r.log.Error("printer", "err", "out of paper", "field", "devices.printer")
	b := browsertest.Start(t)
	p := r.techPage(t, b, "/tech-logs.html")
	p.waitFor(`document.getElementById("skip-1") !== null && document.querySelectorAll("#logs tbody tr").length >= 3`, 10*time.Second, "the rejected record and the logs")
	logs := p.text("#logs")
	if strings.Contains(logs, "Marie") || strings.Contains(logs, "134567890123456781") || !strings.Contains(logs, "[redacted]") || !strings.Contains(logs, "out of paper") {
		t.Errorf("logs shown: %s", logs)
	}
	inLanguages(t, p, "tech-logs", func(lang string) string {
		return fmt.Sprintf(`document.documentElement.lang === %q && document.getElementById("skip-1") !== null`, lang)
	})
	p.setLang("en")
	p.run("move past record 1", chromedp.SendKeys("#reason-1", "record edited on the device, ticket 42", chromedp.ByID),
		chromedp.Click("#skip-1", chromedp.ByID))
	p.waitFor(`document.getElementById("skip-result").dataset.status === "skipped" && !document.getElementById("rejected-none").hidden`, 10*time.Second, "the record moved past")
	p.waitFor(`document.getElementById("audit").textContent.includes("technician:`+technicianID+`")`, 10*time.Second, "the audit entry naming the technician")
	screenshot(t, p, "tech-logs-skipped-en")
	if st := r.ob.Stats(); st.Acked != 1 || st.Blocked != 0 {
		t.Errorf("queue after the page's skip: %+v", st)
	}
}
