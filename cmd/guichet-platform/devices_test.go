package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/internal/fault"
	"github.com/guichet/guichet/internal/health"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

// A device's status and signed health reach the platform's store through
// the real broker; `devices` and the admin endpoint show them; a forged
// report is refused; the device's connection cut, its last will marks it
// offline.
func TestDevicesHealthStatusAndLastWill(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	proxy, err := fault.NewProxy(fmt.Sprintf("127.0.0.1:%d", b.Port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	path, pub := platformConf(t, b.URL())
	adminAddr := fmt.Sprintf("127.0.0.1:%d", brokertest.FreePort(t))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "admin: %q\n", adminAddr)
	f.Close()
	cfg, err := config.LoadPlatform(path)
	if err != nil {
		t.Fatal(err)
	}

	// The device, through the proxy that can cut it off.
	_, devKey, _ := ed25519.GenerateKey(nil)
	if _, errb, code := runCmd("--config", path, "enrol", "--tenant", "shop-1", "--device", "till-1",
		"--key", keys.EncodePublic(devKey.Public().(ed25519.PublicKey))); code != 0 {
		t.Fatalf("enrol: exit %d: %s", code, errb)
	}
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Identity{Tenant: "shop-1", Device: "till-1", Key: devKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	quiet := slog.New(slog.DiscardHandler)
	board := health.NewBoard()
	board.Add("devices.printer", "escpos")
	board.Fail("devices.printer", "no answer: is it plugged in and on?")
	lk, err := link.New(link.Config{Tenant: "shop-1", Device: "till-1", Brokers: []string{proxy.URL()}, PlatformKey: pub,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, Logger: quiet, Degraded: board.Degraded}, ob)
	if err != nil {
		t.Fatal(err)
	}
	g, err := health.New(health.Config{Tenant: "shop-1", Device: "till-1", Key: devKey, Interval: time.Hour, StateDir: t.TempDir(), Logger: quiet},
		ob, lk, board, lk.Publish)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := serve(ctx, cfg, io.Discard); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	go func() { defer wg.Done(); lk.Run(ctx) }()
	eventually(t, "device connected", func() bool { return lk.Status().Connected })
	if _, err := ob.Append(ctx, outbox.Record{Key: "k1", Type: "test.unknown", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}

	store, err := platform.OpenStore(cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	get := func() *platform.DeviceHealth {
		d, err := store.DeviceHealthOf(ctx, "shop-1", "till-1")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// The status is retained and the platform may subscribe after the
	// device's first one; the health report is not, so it goes again
	// until the platform holds it, as the daemon's first report does.
	eventually(t, "health recorded", func() bool {
		if get().Health == nil {
			g.Send(ctx)
			return false
		}
		return true
	})
	lk.StatusChanged()
	eventually(t, "online with the degraded printer", func() bool {
		d := get()
		return d.Online && len(d.Degraded) == 1 && d.Degraded[0] == "devices.printer"
	})
	d := get()
	if d.Health.Device != "till-1" || d.Versions["go"] == "" || len(d.Health.Devices) != 1 || d.Health.Devices[0].Hint == "" {
		t.Fatalf("health %+v", d.Health)
	}

	out, errb, code := runCmd("--config", path, "devices")
	if code != 0 {
		t.Fatalf("devices: exit %d: %s", code, errb)
	}
	t.Logf("devices:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "TENANT") {
		t.Fatalf("devices output:\n%s", out)
	}
	if f := strings.Fields(lines[1]); f[0] != "shop-1" || f[1] != "till-1" || f[2] != "online" || !strings.Contains(lines[1], "degraded: devices.printer") {
		t.Fatalf("devices line %q", lines[1])
	}
	out, _, code = runCmd("--config", path, "devices", "--json")
	var list []platform.DeviceHealth
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 1 || !list[0].Online || list[0].Health == nil {
		t.Fatalf("devices --json: exit %d, %v: %s", code, err, out)
	}
	var served []platform.DeviceHealth
	getJSON(t, "http://"+adminAddr+"/devices", &served)
	if len(served) != 1 || !served[0].Online || served[0].Health.At != list[0].Health.At {
		t.Fatalf("GET /devices: %+v", served)
	}

	// A report signed with another key is refused and counted; the
	// stored one stays.
	_, other, _ := ed25519.GenerateKey(nil)
	forged := *d.Health
	forged.At += int64(time.Hour / time.Millisecond)
	forged.Devices = nil
	payload, _ := json.Marshal(forged)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("forger"))
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	c.Publish(envelope.Topics{Tenant: "shop-1", Device: "till-1"}.Health(), 1, false, envelope.Seal(other, payload)).Wait()
	eventually(t, "forged report refused", func() bool {
		return metric(t, adminAddr, "guichet_platform_refused_total", map[string]string{"reason": "health report"}) == 1
	})
	// (A genuine report sent again while the test waited may have
	// replaced the one read above: only the forged one must not.)
	if got := get().Health; got.At == forged.At || len(got.Devices) != 1 {
		t.Fatalf("forged report stored: %+v", got)
	}

	eventually(t, "record applied", func() bool {
		return metric(t, adminAddr, "guichet_platform_records_applied_total", map[string]string{"device": "till-1"}) == 1
	})
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"guichet_platform_device_online", map[string]string{"tenant": "shop-1", "device": "till-1"}, 1},
		{"guichet_platform_devices", map[string]string{"state": "online"}, 1},
		{"guichet_platform_devices", map[string]string{"state": "offline"}, 0},
		{"guichet_platform_device_degraded_peripherals", map[string]string{"device": "till-1"}, 1},
	}
	for _, c := range checks {
		if got := metric(t, adminAddr, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	// Cut the device's connection without a DISCONNECT and keep it off:
	// the broker publishes the last will.
	proxy.Refuse(true)
	proxy.Cut()
	eventually(t, "offline after the last will", func() bool { return !get().Online })
	if d := get(); d.LastSeen == 0 || d.Health == nil {
		t.Fatalf("offline device lost its history: %+v", d)
	}
	if got := metric(t, adminAddr, "guichet_platform_devices", map[string]string{"state": "offline"}); got != 1 {
		t.Errorf("offline devices = %v, want 1", got)
	}
	out, _, _ = runCmd("--config", path, "devices")
	if !strings.Contains(out, " offline ") {
		t.Fatalf("devices after the will:\n%s", out)
	}
	// Back, it says so itself.
	proxy.Refuse(false)
	eventually(t, "online again", func() bool { return get().Online })
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// metric scrapes the admin endpoint, parses the text format and returns
// the value of the sample of name whose labels include labels; -1 if none.
func metric(t *testing.T, addr, name string, labels map[string]string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	fam := fams[name]
	if fam == nil {
		return -1
	}
next:
	for _, m := range fam.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return value(m)
	}
	return -1
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return -1
}
