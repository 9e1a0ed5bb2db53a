// Package admin is the platform's admin endpoint, on loopback by default
// (config admin): GET /devices lists each enrolled device's health as JSON
// (the same as `guichet-platform devices --json`) and GET /metrics serves
// Prometheus metrics read from the shared store at each scrape, so every
// instance reports the whole fleet whichever instance received what.
package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/guichet/guichet/platform"
)

// Store is what the endpoint reads.
type Store interface {
	Devices(ctx context.Context) ([]platform.DeviceHealth, error)
	Stats(ctx context.Context) ([]platform.DeviceStats, error)
}

// Counters returns counts by reason, such as platform.Server.Refused.
type Counters func() map[string]uint64

// Config sets up the endpoint.
type Config struct {
	Store Store
	// Refused counts the messages the server refused, by reason.
	Refused Counters
	// EnrolRefused counts the enrolment requests refused, by reason; nil
	// with enrolment off.
	EnrolRefused Counters
	Logger       *slog.Logger
}

// Handler returns the endpoint's handler.
func Handler(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{cfg: cfg})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogErrors{cfg.Logger}}))
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		devs, err := cfg.Store.Devices(r.Context())
		if err != nil {
			cfg.Logger.Error("admin: devices", "err", err)
			http.Error(w, "store unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(devs)
	})
	return mux
}

// Serve serves h on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	<-done
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}

type slogErrors struct{ log *slog.Logger }

func (s slogErrors) Println(v ...any) { s.log.Error("admin: metrics", "err", v) }

var (
	devLabels   = []string{"tenant", "device"}
	descOnline  = prometheus.NewDesc("guichet_platform_devices", "Enrolled devices by state (online or offline).", []string{"state"}, nil)
	descUp      = prometheus.NewDesc("guichet_platform_device_online", "1 while the device's status says online, 0 after its last will.", devLabels, nil)
	descDepth   = prometheus.NewDesc("guichet_platform_device_queue_depth", "Records waiting in the device's outbox, as last reported.", devLabels, nil)
	descOldest  = prometheus.NewDesc("guichet_platform_device_queue_oldest_seconds", "Age of the device's oldest unacked record at its last health report.", devLabels, nil)
	descSeen    = prometheus.NewDesc("guichet_platform_device_last_seen_timestamp_seconds", "When the platform last heard from the device (status or health).", devLabels, nil)
	descDegr    = prometheus.NewDesc("guichet_platform_device_degraded_peripherals", "Peripherals of the device not ok, as last reported.", devLabels, nil)
	descApplied = prometheus.NewDesc("guichet_platform_records_applied_total", "Records applied, per device.", devLabels, nil)
	descDup     = prometheus.NewDesc("guichet_platform_records_duplicate_total", "Records received again and answered as duplicates, per device.", devLabels, nil)
	descRej     = prometheus.NewDesc("guichet_platform_records_rejected_total", "Records rejected, per device.", devLabels, nil)
	descRefused = prometheus.NewDesc("guichet_platform_refused_total", "Messages this instance refused, by reason.", []string{"reason"}, nil)
	descEnrol   = prometheus.NewDesc("guichet_platform_enrolment_refused_total", "Enrolment and renewal requests this instance refused, by reason.", []string{"reason"}, nil)
)

// collector reads the store at each scrape: the store is shared by the
// instances, counters kept in one process would miss the others' work.
type collector struct{ cfg Config }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOnline, descUp, descDepth, descOldest, descSeen, descDegr, descApplied, descDup, descRej, descRefused, descEnrol} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	devs, err := c.cfg.Store.Devices(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descOnline, err)
	} else {
		var on, off float64
		for _, d := range devs {
			up := 0.0
			if d.Online {
				up, on = 1, on+1
			} else {
				off++
			}
			ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, d.Tenant, d.Device)
			ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(d.Depth), d.Tenant, d.Device)
			ch <- prometheus.MustNewConstMetric(descDegr, prometheus.GaugeValue, float64(len(d.Degraded)), d.Tenant, d.Device)
			if d.LastSeen > 0 {
				ch <- prometheus.MustNewConstMetric(descSeen, prometheus.GaugeValue, float64(d.LastSeen)/1000, d.Tenant, d.Device)
			}
			if d.Health != nil {
				ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, float64(d.Health.Queue.OldestAge), d.Tenant, d.Device)
			}
		}
		ch <- prometheus.MustNewConstMetric(descOnline, prometheus.GaugeValue, on, "online")
		ch <- prometheus.MustNewConstMetric(descOnline, prometheus.GaugeValue, off, "offline")
	}
	stats, err := c.cfg.Store.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descApplied, err)
	} else {
		for _, s := range stats {
			ch <- prometheus.MustNewConstMetric(descApplied, prometheus.CounterValue, float64(s.Applied), s.Tenant, s.Device)
			ch <- prometheus.MustNewConstMetric(descDup, prometheus.CounterValue, float64(s.Duplicates), s.Tenant, s.Device)
			ch <- prometheus.MustNewConstMetric(descRej, prometheus.CounterValue, float64(s.Rejected), s.Tenant, s.Device)
		}
	}
	for _, p := range []struct {
		desc *prometheus.Desc
		f    Counters
	}{{descRefused, c.cfg.Refused}, {descEnrol, c.cfg.EnrolRefused}} {
		if p.f == nil {
			continue
		}
		for reason, n := range p.f() {
			ch <- prometheus.MustNewConstMetric(p.desc, prometheus.CounterValue, float64(n), reason)
		}
	}
}
