package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/brokertest"
)

// Rig is a broker, a platform and a daemon, each its own process.
type Rig struct {
	T        *testing.T
	Bin      string
	Dir      string
	Broker   *brokertest.Mosquitto
	UIPort   int
	DevConf  string
	PlatConf string
	platform *exec.Cmd
	daemon   *exec.Cmd
}

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "guichet-e2e-bin")
	if err != nil {
		panic(err)
	}
	cmd := exec.Command("go", "build", "-o", dir+"/", "github.com/guichet/guichet/cmd/guichetd", "github.com/guichet/guichet/cmd/guichet", "github.com/guichet/guichet/cmd/guichet-platform")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// NewRig writes the configurations and starts the broker.
func NewRig(t *testing.T) *Rig {
	r := &Rig{T: t, Bin: binDir, Dir: t.TempDir(), Broker: brokertest.StartMosquitto(t), UIPort: brokertest.FreePort(t)}
	r.PlatConf = filepath.Join(r.Dir, "platform.yaml")
	r.DevConf = filepath.Join(r.Dir, "guichetd.yaml")
	write(t, r.PlatConf, fmt.Sprintf(`instance: p1
store: %[1]s/platform/platform.db
key_file: %[1]s/platform/platform.key
broker: {urls: ["%[2]s"]}
admin: "127.0.0.1:%[3]d"
rules: {max_amount: 500000, decline_codes: ["134567890123456789"]}
batch_delay: 1ms
`, r.Dir, r.Broker.URL(), brokertest.FreePort(t)))
	write(t, r.DevConf, fmt.Sprintf(`device: {id: till-1, tenant: shop-1}
state_dir: %[1]s/device
broker: {urls: ["%[2]s"]}
platform_key_file: %[1]s/platform/platform.key.pub
hardware: sim
ui: {listen: "127.0.0.1:%[3]d"}
checkout: {wait_online: 3s}
sync: {ack_timeout: 1s, min_backoff: 100ms, max_backoff: 1s}
`, r.Dir, r.Broker.URL(), r.UIPort))
	r.Run("guichet-platform", "--config", r.PlatConf, "pubkey")
	key := strings.TrimSpace(r.Run("guichet", "--config", r.DevConf, "keygen"))
	r.Run("guichet-platform", "--config", r.PlatConf, "enrol", "--tenant", "shop-1", "--device", "till-1", "--key", key)
	t.Cleanup(func() {
		r.StopDaemon()
		r.StopPlatform()
	})
	return r
}

func write(t testing.TB, path, s string) {
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Run runs one of the programs to completion and returns its output; it
// fails the test on a non-zero exit.
func (r *Rig) Run(prog string, args ...string) string {
	r.T.Helper()
	out, errb, err := r.RunErr(prog, args...)
	if err != nil {
		r.T.Fatalf("%s %v: %v\nstdout: %s\nstderr: %s", prog, args, err, out, errb)
	}
	return out
}

// RunErr runs a program and returns stdout, stderr and its exit error.
func (r *Rig) RunErr(prog string, args ...string) (string, string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(filepath.Join(r.Bin, prog), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func (r *Rig) start(name string, args ...string) *exec.Cmd {
	log, err := os.OpenFile(filepath.Join(r.Dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		r.T.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(r.Bin, name), args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		r.T.Fatal(err)
	}
	return cmd
}

// StartPlatform starts guichet-platform.
func (r *Rig) StartPlatform() {
	r.platform = r.start("guichet-platform", "--config", r.PlatConf, "run")
}

// FreezePlatform stops guichet-platform with SIGSTOP, a platform that
// stops answering with its connections open; ThawPlatform resumes it.
func (r *Rig) FreezePlatform() { r.platform.Process.Signal(syscall.SIGSTOP) }

// ThawPlatform resumes a frozen guichet-platform with SIGCONT.
func (r *Rig) ThawPlatform() { r.platform.Process.Signal(syscall.SIGCONT) }

// StopPlatform stops it with SIGTERM.
func (r *Rig) StopPlatform() { stop(r.platform); r.platform = nil }

// StartDaemon starts guichetd and waits for its API.
func (r *Rig) StartDaemon() {
	r.daemon = r.start("guichetd", "--config", r.DevConf)
	brokertest.WaitPort(r.T, r.UIPort, r.logOf("guichetd"))
}

// KillDaemon kills guichetd with SIGKILL, as a power cut would.
func (r *Rig) KillDaemon() {
	if r.daemon != nil {
		r.daemon.Process.Kill()
		r.daemon.Wait()
		r.daemon = nil
	}
}

// StopDaemon stops guichetd with SIGTERM and checks it exits cleanly.
func (r *Rig) StopDaemon() {
	if r.daemon == nil {
		return
	}
	if err := stop(r.daemon); err != nil {
		r.T.Errorf("guichetd did not stop cleanly: %v\n%s", err, r.logOf("guichetd"))
	}
	r.daemon = nil
}

func stop(c *exec.Cmd) error {
	if c == nil || c.Process == nil {
		return nil
	}
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		c.Process.Kill()
		<-done
		return fmt.Errorf("no exit 15s after SIGTERM")
	}
}

type logText string

func (l logText) String() string { return string(l) }

func (r *Rig) logOf(name string) fmt.Stringer {
	b, _ := os.ReadFile(filepath.Join(r.Dir, name+".log"))
	return logText(b)
}

// Payment is the JSON that `guichet pay` prints.
type Payment struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Amount int64  `json:"amount"`
	Reason string `json:"reason"`
}

// Pay takes a payment through `guichet pay`.
func (r *Rig) Pay(amount, code string) Payment {
	r.T.Helper()
	out := r.Run("guichet", "--config", r.DevConf, "pay", "--amount", amount, "--code", code)
	var p Payment
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		r.T.Fatalf("pay printed %q: %v", out, err)
	}
	return p
}

// Local is a client of the daemon's API over its Unix socket, the
// technician's channel, which needs no cashier's session; its URLs are
// LocalURL's.
func (r *Rig) Local() *http.Client {
	sock := filepath.Join(r.Dir, "device", "api.sock")
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
}

// LocalURL is the URL of an API path for Local's client.
func LocalURL(path string) string { return "http://guichet" + path }

// Payment reads a payment through the daemon's API.
func (r *Rig) Payment(id string) Payment {
	r.T.Helper()
	resp, err := r.Local().Get(LocalURL("/api/payments/" + id))
	if err != nil {
		r.T.Fatal(err)
	}
	defer resp.Body.Close()
	var p Payment
	json.NewDecoder(resp.Body).Decode(&p)
	return p
}

// Status is what `guichet status --json` prints.
type Status struct {
	Queue struct {
		Depth   uint64 `json:"depth"`
		LastSeq uint64 `json:"last_seq"`
	} `json:"queue"`
	Link struct {
		Connected bool `json:"connected"`
	} `json:"link"`
}

// Status runs `guichet status --json`.
func (r *Rig) Status() Status {
	r.T.Helper()
	var s Status
	out := r.Run("guichet", "--config", r.DevConf, "status", "--json")
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		r.T.Fatalf("status printed %q: %v", out, err)
	}
	return s
}

// PlatformStats is what `guichet-platform stats --json` prints.
type PlatformStats struct {
	Applied    uint64 `json:"applied"`
	Duplicates uint64 `json:"duplicates"`
	Rejected   uint64 `json:"rejected"`
}

// Stats runs `guichet-platform stats --json`.
func (r *Rig) Stats() PlatformStats {
	r.T.Helper()
	var s PlatformStats
	out := r.Run("guichet-platform", "--config", r.PlatConf, "stats", "--json")
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		r.T.Fatalf("stats printed %q: %v", out, err)
	}
	return s
}

// Eventually polls cond every 100 ms for up to d.
func (r *Rig) Eventually(d time.Duration, what string, cond func() bool) {
	r.T.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.T.Fatalf("not within %v: %s\nguichetd log:\n%s\nplatform log:\n%s", d, what, r.logOf("guichetd"), r.logOf("guichet-platform"))
}

const (
	goodCode    = "134567890123456780" // WeChat Pay-style
	blockedCode = "134567890123456789" // declined by the platform's rules
)

func TestPaymentOnlineThenOfflineThenBack(t *testing.T) {
	r := NewRig(t)
	r.StartPlatform()
	r.StartDaemon()

	r.Eventually(10*time.Second, "link up", func() bool { return r.Status().Link.Connected })
	if p := r.Pay("12.34", goodCode); p.Status != "approved" || p.Amount != 1234 {
		t.Fatalf("online payment: %+v, want approved 1234", p)
	}
	if p := r.Pay("1.00", blockedCode); p.Status != "declined" {
		t.Fatalf("blocked code: %+v, want declined", p)
	}

	r.StopPlatform()
	// The platform down, the broker up: a decision after wait_online,
	// approved offline within the default limits, never queued.
	queued := r.Pay("5.00", goodCode)
	if queued.Status != "approved_offline" {
		t.Fatalf("payment with the platform down: %+v, want approved_offline", queued)
	}
	if d := r.Status().Queue.Depth; d != 1 {
		t.Fatalf("queue depth %d with the platform down, want 1", d)
	}
	r.StartPlatform()
	r.Eventually(20*time.Second, "offline payment approved", func() bool { return r.Payment(queued.ID).Status == "approved" })
	r.Eventually(10*time.Second, "queue drained", func() bool { return r.Status().Queue.Depth == 0 })
	if s := r.Stats(); s.Applied != 3 || s.Rejected != 0 {
		t.Fatalf("platform stats %+v, want 3 applied, none rejected", s)
	}
}

func TestBadInputRefused(t *testing.T) {
	r := NewRig(t)
	r.StartPlatform()
	r.StartDaemon()
	for _, tc := range []struct{ amount, code, want string }{
		{"12.34", "12345", "paycode"},
		{"abc", goodCode, "amount"},
		{"0", goodCode, "more than zero"},
		{"12.345", goodCode, "amount"},
	} {
		out, errb, err := r.RunErr("guichet", "--config", r.DevConf, "pay", "--amount", tc.amount, "--code", tc.code)
		if err == nil || !strings.Contains(errb, tc.want) || strings.Count(strings.TrimSpace(errb), "\n") != 0 {
			t.Errorf("pay %s %s: err %v, stdout %q, stderr %q; want one line about %q", tc.amount, tc.code, err, out, errb, tc.want)
		}
	}
	if d := r.Status().Queue.LastSeq; d != 0 {
		t.Fatalf("bad input stored %d records", d)
	}
}

func TestBadConfigurationStopsTheDaemon(t *testing.T) {
	dir := t.TempDir()
	good := func(extra string) string {
		return fmt.Sprintf("device: {id: till-1}\nstate_dir: %s/state\nbroker: {urls: [\"tcp://127.0.0.1:1883\"]}\nplatform_key: \"%s\"\n%s",
			dir, "MCowBQYDK2VwAyEAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=", extra)
	}
	cases := []struct{ name, conf, want string }{
		{"broken yaml", "device: {id: [unclosed\n", "guichetd.yaml"},
		{"unknown field", good("colour: blue\n"), "colour"},
		{"bad broker", strings.Replace(good(""), "tcp://127.0.0.1:1883", "127.0.0.1", 1), "broker.urls[0]"},
		{"bad broker port", strings.Replace(good(""), "tcp://127.0.0.1:1883", "tcp://127.0.0.1:http", 1), "broker.urls[0]"},
		{"unknown hardware", good("hardware: quantum\n"), "hardware"},
		{"unknown driver", good("devices: {card_reader: {driver: telepathy}}\n"), "devices.card_reader"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "guichetd.yaml")
			write(t, path, tc.conf)
			var out, errb bytes.Buffer
			cmd := exec.Command(filepath.Join(binDir, "guichetd"), "--config", path)
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			if err == nil {
				t.Fatal("guichetd started with a bad configuration")
			}
			msg := strings.TrimSpace(errb.String())
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tc.want) {
				t.Fatalf("want one line naming %q, got:\n%s", tc.want, msg)
			}
			if _, err := os.Stat(filepath.Join(dir, "state")); !os.IsNotExist(err) {
				t.Fatal("the daemon touched its state directory")
			}
		})
	}
}
