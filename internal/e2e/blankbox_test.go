package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/internal/brokertest"
)

// enrolSite is a site as it runs in production: the shipped Mosquitto
// (site.conf, mutual TLS) and its provisioning broker (provision.conf),
// with every certificate from the platform's CA, and guichet-platform
// serving enrolment. Only the programs are started here; what a
// technician types is in blankBox.
type enrolSite struct {
	tb       testing.TB
	dir      string
	site     *brokertest.Site
	platConf string
	caFile   string
	platform *exec.Cmd
}

func startEnrolSite(tb testing.TB) *enrolSite {
	s := &enrolSite{tb: tb, dir: tb.TempDir()}
	s.platConf = filepath.Join(s.dir, "platform.yaml")
	admin := brokertest.FreePort(tb)
	conf := func(broker, tls string) string {
		return fmt.Sprintf(`instance: p1
store: %[1]s/platform.db
key_file: %[1]s/platform.key
broker: {urls: ["%[2]s"]%[4]s}
shared: true
admin: "127.0.0.1:%[3]d"
batch_delay: 1ms
enrol: {dir: %[1]s/ca, brokers: ["%[2]s"]}
rules: {max_amount: 500000}
`, s.dir, broker, admin, tls)
	}
	// The CA is made at first use; the platform's own certificate comes
	// from it, before the configuration can name it.
	write(tb, s.platConf, conf("ssl://127.0.0.1:1", ""))
	s.run("guichet-platform", "--config", s.platConf, "ca", "platform-cert", "--out", filepath.Join(s.dir, "certs"))
	s.caFile = filepath.Join(s.dir, "ca", "ca.pem")
	s.site = brokertest.StartMosquittoSite(tb, brokertest.CAFrom(tb, readCert(tb, s.caFile), caKey(tb, filepath.Join(s.dir, "ca", "ca.key"))))
	certs := filepath.Join(s.dir, "certs")
	write(tb, s.platConf, conf(s.site.URL(), fmt.Sprintf(", ca: %s, cert: %s/guichet-platform-p1.pem, key: %s/guichet-platform-p1.key", s.caFile, certs, certs)))
	s.platform = startLogged(tb, filepath.Join(s.dir, "platform.log"), "guichet-platform", "--config", s.platConf, "run")
	waitFile(tb, filepath.Join(s.dir, "platform.log"), "platform connected")
	tb.Cleanup(func() { stop(s.platform) })
	return s
}

// blankBox is the technician's part, timed: a code from the platform,
// `guichet provision` on a box holding nothing but a configuration with
// its hardware, the daemon started, and a first payment approved by the
// platform (so the box syncs). It returns the time it took and the box.
func (s *enrolSite) blankBox(name string) (time.Duration, *box) {
	tb := s.tb
	b := &box{s: s, name: name, ui: brokertest.FreePort(tb), conf: filepath.Join(s.dir, name+".yaml"), log: filepath.Join(s.dir, name+".log")}
	write(tb, b.conf, fmt.Sprintf(`device: {id: %[3]s}
state_dir: %[1]s
hardware: sim
ui: {listen: "127.0.0.1:%[2]d"}
checkout: {wait_online: 3s}
sync: {ack_timeout: 1s, min_backoff: 100ms, max_backoff: 1s}
`, filepath.Join(s.dir, name), b.ui, name))
	tb.Cleanup(b.stop)
	start := time.Now()
	out := s.run("guichet-platform", "--config", s.platConf, "enrol-code", "--tenant", "shop-1", "--site", "paris-3", "--role", "till")
	code := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	out = s.run("guichet", "--config", b.conf, "provision", "--code", code, "--broker", s.site.ProvisionURL(), "--ca", s.caFile)
	if !strings.Contains(out, "enrolled as shop-1/"+name+" (site paris-3, role till)") {
		tb.Fatalf("guichet provision printed %q", out)
	}
	b.code = code
	b.startAndPay()
	return time.Since(start), b
}

// box is an appliance of the enrolment tests: its configuration and its
// running daemon.
type box struct {
	s               *enrolSite
	name, conf, log string
	code            string
	ui              int
	daemon          *exec.Cmd
}

// startAndPay starts guichetd and takes a payment that only the platform
// can approve online.
func (b *box) startAndPay() {
	tb := b.s.tb
	b.daemon = startLogged(tb, b.log, "guichetd", "--config", b.conf)
	brokertest.WaitPort(tb, b.ui, fileText(b.log))
	out := b.s.run("guichet", "--config", b.conf, "pay", "--amount", "1.00", "--code", "134567890123456780")
	var p Payment
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.Status != "approved" {
		tb.Fatalf("payment of the enrolled box: %q (%v); daemon log:\n%s", out, err, fileText(b.log))
	}
}

func (b *box) stop() {
	if err := stop(b.daemon); err != nil {
		b.s.tb.Errorf("guichetd: %v", err)
	}
	b.daemon = nil
}

// TestBlankBoxToSyncing runs the technician's steps on a blank box
// against a production-shaped site: the box enrols by code, connects as
// itself over mutual TLS, and its first payment is approved by the
// platform; the platform lists it with its binding, and the code, used
// once, enrols no second box.
func TestBlankBoxToSyncing(t *testing.T) {
	s := startEnrolSite(t)
	_, b := s.blankBox("till-9")
	var list struct {
		Devices []struct {
			Tenant, Device, Site, Role, State string
		} `json:"devices"`
	}
	out := s.run("guichet-platform", "--config", s.platConf, "device", "list", "--json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("device list: %q: %v", out, err)
	}
	found := false
	for _, d := range list.Devices {
		if d.Tenant == "shop-1" && d.Device == "till-9" {
			found = d.Site == "paris-3" && d.Role == "till" && d.State == "active"
		}
	}
	if !found {
		t.Fatalf("platform does not list shop-1/till-9 active at paris-3 as a till: %s", out)
	}
	if st := s.run("guichet", "--config", b.conf, "status"); !strings.Contains(st, "connected true "+s.site.URL()) {
		t.Fatalf("box not connected to the site broker over mutual TLS:\n%s", st)
	}
	other := filepath.Join(s.dir, "other.yaml")
	write(t, other, fmt.Sprintf("device: {id: till-10}\nstate_dir: %s\nhardware: sim\n", filepath.Join(s.dir, "other")))
	cmd := exec.Command(filepath.Join(binDir, "guichet"), "--config", other, "provision", "--code", b.code, "--broker", s.site.ProvisionURL(), "--ca", s.caFile)
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "code already used") {
		t.Fatalf("a used code enrolled a second box: %v: %s", err, msg)
	}
}

// BenchmarkBlankBoxToSync times the technician's part of enrolling a blank
// box (enrol_to_sync_s: code, provision, daemon start, first payment
// approved online), next to its anchor: the daemon start and first payment
// of the same box once enrolled (restart_to_sync_s), so the difference is
// what enrolment costs.
func BenchmarkBlankBoxToSync(b *testing.B) {
	s := startEnrolSite(b)
	took, bx := s.blankBox("till-b")
	bx.stop()
	start := time.Now()
	bx.startAndPay()
	benchfig.Report(b, "enrol_to_sync_s", took.Seconds(), "s")
	benchfig.Report(b, "restart_to_sync_s", time.Since(start).Seconds(), "s")
}

func (s *enrolSite) run(prog string, args ...string) string {
	s.tb.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(filepath.Join(binDir, prog), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		s.tb.Fatalf("%s %v: %v\nstdout: %s\nstderr: %s", prog, args, err, out.String(), errb.String())
	}
	return out.String()
}

func startLogged(tb testing.TB, logPath, prog string, args ...string) *exec.Cmd {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, prog), args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return cmd
}

func waitFile(tb testing.TB, path, text string) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(readText(tb, path), text) {
		if time.Now().After(deadline) {
			tb.Fatalf("no %q in %s after 30s:\n%s", text, path, readText(tb, path))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readText(tb testing.TB, path string) string {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	return string(b)
}

type fileText string

func (f fileText) String() string { b, _ := os.ReadFile(string(f)); return string(b) }

func readCert(tb testing.TB, path string) *x509.Certificate {
	blk, _ := pem.Decode([]byte(readText(tb, path)))
	if blk == nil {
		tb.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
