package daemon

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/firmware-bridge/sam/samemu"
	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/internal/escposemu"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/internal/selftest"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/sync/outbox"
)

func init() { clockSynced = func() (bool, error) { return true, nil } }

// statuses maps each check's name to its status.
func statuses(rep selftest.Report) map[string]selftest.Status {
	m := map[string]selftest.Status{}
	for _, r := range rep.Results {
		m[r.Name] = r.Status
	}
	return m
}

func wantChecks(t testing.TB, rep selftest.Report, want map[string]selftest.Status) {
	t.Helper()
	got := statuses(rep)
	for n, s := range want {
		if got[n] != s {
			var b strings.Builder
			rep.WriteTable(&b)
			t.Fatalf("check %q: %q, want %q\n%s", n, got[n], s, b.String())
		}
	}
}

// simConfig writes a configuration of simulated hardware with a printer
// and drawer, a store in its state directory, and the given extra YAML.
func simConfig(t testing.TB, extra string) *config.Daemon {
	t.Helper()
	dir := t.TempDir()
	k, err := keys.LoadOrCreate(filepath.Join(dir, "device.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Identity{Tenant: "shop1", Device: "till1", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	conf := filepath.Join(dir, "guichetd.yaml")
	os.WriteFile(conf, []byte(fmt.Sprintf(`device: {id: till1, tenant: shop1}
state_dir: %s
broker: {urls: ["tcp://127.0.0.1:%d"]}
platform_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
hardware: sim
ui: {listen: "127.0.0.1:%d"}
%s`, dir, brokertest.FreePort(t), brokertest.FreePort(t), extra)), 0o600)
	cfg, err := config.LoadDaemon(conf)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const simDevices = `devices:
  printer: {driver: sim}
  drawer: {via: printer}
  code_readers: [{driver: sim, options: {codes: [GUICHET-SELFTEST]}}]
`

// TestSelfTestInProcess tests simulated hardware without a daemon: the
// devices pass, a device that does not open fails with its field, and the
// link's checks fail with the hint to start guichetd.
func TestSelfTestInProcess(t *testing.T) {
	cfg := simConfig(t, simDevices)
	rep := SelfTest(context.Background(), cfg)
	wantChecks(t, rep, map[string]selftest.Status{
		"code reader 0": selftest.Pass, "card reader": selftest.Pass, "display": selftest.Pass, "gpio": selftest.Pass,
		"printer": selftest.Pass, "drawer": selftest.Pass, "clock": selftest.Pass, "disk": selftest.Pass, "store": selftest.Pass,
		"tpm": selftest.Skip, "broker": selftest.Fail, "platform": selftest.Fail,
	})
	if rep.Failed != 2 || !strings.Contains(rep.Results[len(rep.Results)-1].Hint, "start guichetd") {
		t.Errorf("report %+v", rep)
	}

	cfg = simConfig(t, "devices: {display: {driver: sim, options: {adress: 0x3d}}}\n")
	rep = SelfTest(context.Background(), cfg)
	wantChecks(t, rep, map[string]selftest.Status{"devices.display": selftest.Fail, "gpio": selftest.Pass})
}

// emulated starts the ESC/POS printer and the SAM card reader emulators
// on pseudo-terminals and a folder camera showing the test card, and
// returns the devices' configuration.
func emulated(t testing.TB, ctx context.Context) (string, *samemu.Emulator) {
	t.Helper()
	pe := escposemu.New()
	ppt, err := pe.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ppt.Close() })
	se := samemu.New()
	if err := se.SetCard(samemu.SampleText(), nil); err != nil {
		t.Fatal(err)
	}
	spt, err := se.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { spt.Close() })
	cards := t.TempDir()
	f, _ := os.Create(filepath.Join(cards, "card.png"))
	if err := selftest.WriteCard(f, 6); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return fmt.Sprintf(`devices:
  printer: {driver: escpos, options: {port: %s, baud: 115200, status: true}}
  drawer: {via: printer}
  card_reader: {driver: sam, options: {port: %s}}
  code_readers: [{driver: camera, options: {camera: folder, camera_options: {path: %s, fps: 10}, confirm: 1}}]
`, ppt.Path, spt.Path, cards), se
}

// TestSelfTestEmulators tests the printer, the SAM card reader and a
// camera at the wire, through their emulators.
func TestSelfTestEmulators(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	devs, sam := emulated(t, ctx)
	cfg := simConfig(t, devs)
	rep := SelfTest(ctx, cfg)
	wantChecks(t, rep, map[string]selftest.Status{"camera 0": selftest.Pass, "card reader": selftest.Pass, "printer": selftest.Pass, "drawer": selftest.Pass})
	for _, r := range rep.Results {
		if r.Name == "card reader" && !strings.Contains(r.Detail, "card present") {
			t.Errorf("card reader: %q", r.Detail)
		}
	}
	sam.RemoveCard()
	rep = SelfTest(ctx, cfg)
	for _, r := range rep.Results {
		if r.Name == "card reader" && (r.Status != selftest.Pass || !strings.Contains(r.Detail, "no card")) {
			t.Errorf("card reader without a card: %s %q", r.Status, r.Detail)
		}
	}
}

// TestSelfTestThroughDaemon runs guichetd on simulated hardware with a
// real Mosquitto and a platform in-process, and its self-test through the
// local API: the broker takes the device and the platform answers the
// ping through the outbox.
func TestSelfTestThroughDaemon(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	broker := brokertest.StartMosquitto(t)
	pub, platKey, _ := ed25519.GenerateKey(nil)
	cfg := simConfig(t, simDevices)
	cfg.Broker.URLs = []string{broker.URL()}
	cfg.PlatformKey = keys.EncodePublic(pub)
	devKey, _ := keys.LoadOrCreate(filepath.Join(cfg.StateDir, "device.key"))
	ps, err := platform.OpenStore(filepath.Join(t.TempDir(), "platform.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	if err := ps.Enrol(ctx, "shop1", "till1", devKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	srv := platform.NewServer(platform.ServerConfig{Instance: "p1", Brokers: []string{broker.URL()}, Key: platKey,
		BatchMax: 100, BatchDelay: time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, ps, nil)
	pctx, pstop := context.WithCancel(ctx)
	pdone := make(chan struct{})
	go func() { defer close(pdone); srv.Run(pctx) }()
	defer func() { pstop(); <-pdone }()
	dctx, dstop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(dctx, cfg, slog.New(slog.DiscardHandler)) }()
	defer func() { dstop(); <-done }()

	rep := postSelfTest(t, cfg.UI.Socket)
	wantChecks(t, rep, map[string]selftest.Status{"code reader 0": selftest.Pass, "printer": selftest.Pass, "store": selftest.Pass,
		"broker": selftest.Pass, "platform": selftest.Pass})
	if !rep.OK() {
		t.Fatalf("report %+v", rep)
	}
}

// postSelfTest runs the self-test of the daemon on its Unix socket, as
// `guichet selftest` does, waiting for it to listen.
func postSelfTest(t testing.TB, socket string) selftest.Report {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
	url := "http://guichet/api/selftest"
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Post(url, "application/json", strings.NewReader("{}"))
		if err == nil {
			defer resp.Body.Close()
			var rep selftest.Report
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST %s: %s", url, resp.Status)
			}
			if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
				t.Fatal(err)
			}
			return rep
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not listening: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkSelfTest measures `guichet selftest` in-process on simulated
// hardware and with the printer, SAM reader and camera emulators.
func BenchmarkSelfTest(b *testing.B) {
	ctx := context.Background()
	cfg := simConfig(b, simDevices)
	b.Run("sim", func(b *testing.B) {
		var last selftest.Report
		for b.Loop() {
			last = SelfTest(ctx, cfg)
		}
		benchfig.Report(b, "selftest_sim_s", float64(last.Millis)/1000, "s")
	})
	devs, _ := emulated(b, ctx)
	ecfg := simConfig(b, devs)
	b.Run("emulators", func(b *testing.B) {
		var last selftest.Report
		for b.Loop() {
			last = SelfTest(ctx, ecfg)
		}
		benchfig.Report(b, "selftest_emulators_s", float64(last.Millis)/1000, "s")
	})
}
