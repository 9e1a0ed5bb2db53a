package ui_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/firmware-bridge/manifest"
	"github.com/guichet/guichet/internal/browsertest"
	"github.com/guichet/guichet/provision"
	"github.com/guichet/guichet/provision/provisiontest"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/ui"
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

// TestTechFirmwarePage: the technician picks a signed release in the
// firmware directory and starts the update of the emulated peripheral (on
// a pseudo-terminal, paced at a serial line's speed); the page draws the
// progress, then says it is installed; a downgrade is refused, said so.
func TestTechFirmwarePage(t *testing.T) {
	emu, port := fwPeripheral(t, 57600)
	dir := t.TempDir()
	fw := newFirmware(t, port, dir)
	r := newTechRig(t, func(s *ui.Server) { s.Firmware = fw })
	mb, img := fwRelease(t, fwKey(1), manifest.Version{Major: 2, Minor: 1}, 3, 48000)
	writeRelease(t, dir, "sam-2.1.0.bin", mb, img)
	mbOld, imgOld := fwRelease(t, fwKey(1), manifest.Version{Major: 1, Minor: 5}, 1, 5000)
	writeRelease(t, dir, "sam-1.5.0.bin", mbOld, imgOld)

	b := browsertest.Start(t)
	p := r.techPage(t, b, "/tech-firmware.html")
	p.waitFor(`document.getElementById("fw-release").options.length === 3`, 10*time.Second, "the releases of the directory")
	p.setLang("en")
	p.run("start the update to 2.1.0", chromedp.SetValue("#fw-release", "sam-2.1.0.bin", chromedp.ByID), chromedp.Click("#fw-start", chromedp.ByID))
	p.waitFor(`(() => { const b = document.getElementById("fw-progress"); return b.value > 0 && b.value < b.max && document.getElementById("fw-job").dataset.state === "running"; })()`,
		30*time.Second, "the progress bar moving")
	screenshot(t, p, "tech-firmware-running-en")
	p.waitFor(`document.getElementById("fw-result").dataset.status === "done"`, 60*time.Second, "the update done")
	var bar struct{ Value, Max float64 }
	p.eval(`(() => { const b = document.getElementById("fw-progress"); return {Value: b.value, Max: b.max}; })()`, &bar)
	if bar.Max != 48000 || bar.Value != bar.Max {
		t.Errorf("progress at the end: %+v", bar)
	}
	if s := emu.State(); s.Version != (manifest.Version{Major: 2, Minor: 1}) || s.Counter != 3 {
		t.Fatalf("emulator after the page's update: %+v", s)
	}
	inLanguages(t, p, "tech-firmware-done", func(lang string) string {
		return fmt.Sprintf(`document.documentElement.lang === %q && document.getElementById("fw-result").dataset.status === "done"`, lang)
	})
	p.run("start the downgrade to 1.5.0", chromedp.SetValue("#fw-release", "sam-1.5.0.bin", chromedp.ByID), chromedp.Click("#fw-start", chromedp.ByID))
	p.waitFor(`document.getElementById("fw-result").dataset.status === "refused-downgrade"`, 30*time.Second, "the downgrade refused")
	screenshot(t, p, "tech-firmware-refused-fr")
	if s := emu.State(); s.Version != (manifest.Version{Major: 2, Minor: 1}) {
		t.Errorf("emulator after the refused downgrade: %+v", s)
	}
}

// writeRelease puts a signed release in the firmware directory, as the
// technician's USB stick or `guichet firmware` would.
func writeRelease(t *testing.T, dir, name string, mb, img []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), img, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".manifest"), mb, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTechProvisionPage enrols the appliance from the technician's page
// against a real provisioning broker and test platform: the code the
// platform printed is read by the appliance's scanner (with the
// scanner's symbology prefix), fills the field, and the enrolment is
// done, the page asking for the restart; a second code, typed, over the
// enrolment is refused unless re-enrolment is ticked.
func TestTechProvisionPage(t *testing.T) {
	ca := provisiontest.NewCA(t, "platform CA")
	br := provisiontest.StartBroker(t, ca)
	plat := provisiontest.StartPlatform(t, br, ca)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _, _ := ed25519.GenerateKey(nil)
	state := filepath.Join(dir, "state")
	prov := &ui.Provisioner{Key: memKey{k}, RecordKey: rk, StateDir: state, Device: "till-7", Broker: br.ProvisionURL(), Timeout: 20 * time.Second}
	r := newTechRig(t, func(s *ui.Server) { s.Provision = prov })

	b := browsertest.Start(t)
	p := r.techPage(t, b, "/tech-provision.html")
	p.waitFor(`document.getElementById("prov-broker").value !== "" && document.getElementById("prov-state").children.length > 0`, 10*time.Second, "the enrolment's state")
	p.run("the CA file", chromedp.SendKeys("#prov-ca", caFile, chromedp.ByID))
	inLanguages(t, p, "tech-provision-idle", func(lang string) string {
		return fmt.Sprintf(`document.documentElement.lang === %q`, lang)
	})
	p.setLang("en")
	// Give the page's long poll of the scans the time to start.
	time.Sleep(500 * time.Millisecond)
	r.srv.Scans.Add(codereader.Code{Format: "QR_CODE", Text: "]Q1" + plat.Code.String() + "\r\n", Source: "scanner"})
	p.waitFor(`document.getElementById("prov-result").dataset.status === "scanned" && document.getElementById("prov-code").value === `+fmt.Sprintf("%q", plat.Code.String()), 10*time.Second, "the scanned code in the field")
	p.run("enrol", chromedp.Click("#prov-submit", chromedp.ByID))
	p.waitFor(`document.getElementById("prov-result").dataset.status === "enrolled"`, 30*time.Second, "enrolled")
	if res := p.text("#prov-result"); !strings.Contains(res, "shop1/till-7") {
		t.Errorf("result: %q", res)
	}
	if e, err := provision.LoadEnrolment(state); err != nil || e.Device != "till-7" {
		t.Fatalf("enrolment on disk: %+v %v", e, err)
	}
	p.run("show the outcome", chromedp.Evaluate(`document.getElementById("prov-result").scrollIntoView({block: "center"})`, nil))
	inLanguages(t, p, "tech-provision-enrolled", func(lang string) string {
		return fmt.Sprintf(`document.documentElement.lang === %q && document.getElementById("prov-result").dataset.status === "enrolled"`, lang)
	})
	p.run("a second code, typed", clear("prov-code"), chromedp.SendKeys("#prov-code", "0000-0000-0000-0000", chromedp.ByID), chromedp.Click("#prov-submit", chromedp.ByID))
	p.waitFor(`document.getElementById("prov-result").dataset.status === "enrolled" && document.getElementById("prov-result").className.includes("error")`, 15*time.Second, "refused: enrolled already")
	p.run("show the refusal", chromedp.Evaluate(`document.getElementById("prov-result").scrollIntoView({block: "center"})`, nil))
	screenshot(t, p, "tech-provision-refused-fr")
}
