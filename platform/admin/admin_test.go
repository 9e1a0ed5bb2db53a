package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/sync/envelope"
)

type fakeStore struct {
	devs  []platform.DeviceHealth
	stats []platform.DeviceStats
	err   error
}

func (f *fakeStore) Devices(context.Context) ([]platform.DeviceHealth, error) { return f.devs, f.err }
func (f *fakeStore) Stats(context.Context) ([]platform.DeviceStats, error)    { return f.stats, f.err }

func TestHandler(t *testing.T) {
	st := &fakeStore{
		devs: []platform.DeviceHealth{
			{Tenant: "t1", Device: "d1", Online: true, LastSeen: 1764930000000, Depth: 4, Degraded: []string{"devices.printer"},
				Health: &envelope.Health{Queue: envelope.HealthQueue{Depth: 4, OldestAge: 30}}},
			{Tenant: "t1", Device: "d2", Degraded: []string{}},
		},
		stats: []platform.DeviceStats{{Tenant: "t1", Device: "d1", Applied: 12, Duplicates: 1}},
	}
	h := httptest.NewServer(Handler(Config{Store: st, Logger: slog.New(slog.DiscardHandler),
		Refused:      func() map[string]uint64 { return map[string]uint64{"health report": 2} },
		EnrolRefused: func() map[string]uint64 { return map[string]uint64{"bad code": 3} }}))
	defer h.Close()

	resp, err := http.Get(h.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string, labels ...string) float64 {
		t.Helper()
	next:
		for _, m := range fams[name].GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"guichet_platform_devices", []string{"state", "online"}, 1},
		{"guichet_platform_devices", []string{"state", "offline"}, 1},
		{"guichet_platform_device_online", []string{"device", "d2"}, 0},
		{"guichet_platform_device_queue_depth", []string{"device", "d1"}, 4},
		{"guichet_platform_device_queue_oldest_seconds", []string{"device", "d1"}, 30},
		{"guichet_platform_device_last_seen_timestamp_seconds", []string{"device", "d1"}, 1764930000},
		{"guichet_platform_device_degraded_peripherals", []string{"device", "d1"}, 1},
		{"guichet_platform_records_applied_total", []string{"device", "d1"}, 12},
		{"guichet_platform_refused_total", []string{"reason", "health report"}, 2},
		{"guichet_platform_enrolment_refused_total", []string{"reason", "bad code"}, 3},
	} {
		if got := get(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	var devs []platform.DeviceHealth
	resp, err = http.Get(h.URL + "/devices")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&devs); err != nil || len(devs) != 2 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/devices: %v %+v", err, devs)
	}
	resp.Body.Close()

	// Only GET; a store that fails is a 500 that says nothing of it.
	if resp, _ := http.Post(h.URL+"/devices", "application/json", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /devices: %s", resp.Status)
	}
	st.err = errors.New("disk I/O error at /var/lib/secret.db")
	for _, path := range []string{"/devices", "/metrics"} {
		resp, err := http.Get(h.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError || (path == "/devices" && strings.Contains(string(b), "secret")) {
			t.Errorf("GET %s with a failing store: %s %q", path, resp.Status, b)
		}
	}
}
