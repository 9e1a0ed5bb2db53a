package health

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

// Queue is what the report needs of the outbox.
type Queue interface {
	Stats() outbox.Stats
	Oldest(ctx context.Context) (time.Time, bool, error)
}

// Link is what the report needs of the link.
type Link interface {
	Status() link.Status
}

// Publish sends a sealed report on topic; link.Link.Publish is one.
type Publish func(ctx context.Context, topic string, payload []byte) error

// Config sets up a Gatherer.
type Config struct {
	Tenant, Device string
	// Key is the record key: the platform checks the report with the key
	// it checks the device's records with.
	Key ed25519.PrivateKey
	// Interval is the time between reports.
	Interval time.Duration
	// StateDir is the directory whose file system's free space is reported.
	StateDir string
	// ThermalDir is where the board's temperature sensors are (default
	// /sys/class/thermal); none found, no temperature is reported.
	ThermalDir string
	// Started is when the daemon started, for the uptime.
	Started time.Time
	Logger  *slog.Logger
}

// Gatherer makes the health report and sends it every Interval.
type Gatherer struct {
	cfg   Config
	queue Queue
	link  Link
	board *Board
	pub   Publish
	// now is the clock; a test sets it.
	now func() time.Time
}

// New returns a gatherer; Run starts it. board may be nil (no
// peripherals reported).
func New(cfg Config, q Queue, l Link, board *Board, pub Publish) (*Gatherer, error) {
	switch {
	case !envelope.ValidName(cfg.Tenant):
		return nil, fmt.Errorf("health: bad tenant %q", cfg.Tenant)
	case !envelope.ValidName(cfg.Device):
		return nil, fmt.Errorf("health: bad device %q", cfg.Device)
	case len(cfg.Key) != ed25519.PrivateKeySize:
		return nil, errors.New("health: no record key")
	case cfg.Interval <= 0:
		return nil, fmt.Errorf("health: interval %v must be positive", cfg.Interval)
	case q == nil || l == nil || pub == nil:
		return nil, errors.New("health: queue, link and publisher are required")
	}
	if cfg.ThermalDir == "" {
		cfg.ThermalDir = "/sys/class/thermal"
	}
	if cfg.Started.IsZero() {
		cfg.Started = time.Now()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if board == nil {
		board = NewBoard()
	}
	return &Gatherer{cfg: cfg, queue: q, link: l, board: board, pub: pub, now: time.Now}, nil
}

// Gather makes a report of the appliance as it is now. A part that cannot
// be read (the disk, the queue's oldest record) is left out, not fatal:
// a partial report says more than none.
func (g *Gatherer) Gather(ctx context.Context) *envelope.Health {
	now := g.now()
	st := g.queue.Stats()
	h := &envelope.Health{Tenant: g.cfg.Tenant, Device: g.cfg.Device, At: now.UnixMilli(),
		Uptime:   int64(now.Sub(g.cfg.Started) / time.Second),
		Versions: Versions(),
		Queue:    envelope.HealthQueue{Depth: st.Depth, Blocked: st.Blocked},
		Devices:  g.board.Devices(),
	}
	if at, ok, err := g.queue.Oldest(ctx); err != nil {
		g.cfg.Logger.Warn("health: oldest record", "err", err)
	} else if ok && now.After(at) {
		h.Queue.OldestAge = int64(now.Sub(at) / time.Second)
	}
	ls := g.link.Status()
	h.Link = envelope.HealthLink{Connected: ls.Connected, Reconnects: ls.Reconnects, Sent: ls.Sent,
		Resent: ls.Resent, Refused: ls.Refused, LastAck: unixMilli(ls.LastAck), LastSync: unixMilli(ls.LastSync)}
	if free, total, err := Disk(g.cfg.StateDir); err != nil {
		g.cfg.Logger.Warn("health: disk", "err", err)
	} else {
		h.DiskFree, h.DiskTotal = free, total
	}
	if t, ok := Temperature(g.cfg.ThermalDir); ok {
		h.TempMilliC = &t
	}
	if len(h.Devices) > envelope.MaxHealthDevices {
		h.Devices = h.Devices[:envelope.MaxHealthDevices]
	}
	return h
}

// Send gathers a report, seals it with the record key and publishes it.
func (g *Gatherer) Send(ctx context.Context) error {
	payload, err := json.Marshal(g.Gather(ctx))
	if err != nil {
		return fmt.Errorf("health: encode: %w", err)
	}
	t := envelope.Topics{Tenant: g.cfg.Tenant, Device: g.cfg.Device}
	if err := g.pub(ctx, t.Health(), envelope.Seal(g.cfg.Key, payload)); err != nil {
		return fmt.Errorf("health: send: %w", err)
	}
	return nil
}

// Run sends a report every Interval until ctx ends, the first one as soon
// as the link is up. A report that cannot go (no session) is dropped: the
// next one says more.
func (g *Gatherer) Run(ctx context.Context) error {
	tick := time.NewTicker(g.cfg.Interval)
	defer tick.Stop()
	sent := false
	// Until the first report is out, try every second so the platform
	// learns the versions soon after the link comes up.
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		case <-retry.C:
			if sent {
				retry.Stop()
				continue
			}
		}
		if err := g.Send(ctx); err != nil {
			if !errors.Is(err, link.ErrNotConnected) && ctx.Err() == nil {
				g.cfg.Logger.Warn("health report not sent", "err", err)
			}
			continue
		}
		sent = true
	}
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Versions are the program's module version, its VCS revision where it
// was built from a checkout, and the Go version.
func Versions() map[string]string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	v := map[string]string{"go": bi.GoVersion, "main": bi.Main.Version}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v["vcs.revision"] = s.Value
		case "vcs.modified":
			v["vcs.modified"] = s.Value
		}
	}
	for k, s := range v {
		if s == "" {
			delete(v, k)
		}
	}
	return v
}

// Disk returns the free (for an unprivileged writer) and total bytes of
// the file system holding dir.
func Disk(dir string) (free, total uint64, err error) {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return 0, 0, fmt.Errorf("health: statfs %s: %w", dir, err)
	}
	bs := uint64(fs.Bsize)
	return fs.Bavail * bs, fs.Blocks * bs, nil
}

// Temperature returns the highest reading of the thermal zones under dir
// (Linux's /sys/class/thermal/thermal_zone*/temp, millidegrees Celsius);
// ok is false where there is none.
func Temperature(dir string) (milliC int64, ok bool) {
	zones, _ := filepath.Glob(filepath.Join(dir, "thermal_zone*", "temp"))
	for _, z := range zones {
		b, err := os.ReadFile(z)
		if err != nil {
			continue
		}
		t, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// A sensor that reads below -50 °C or above 200 °C is not
		// connected or not a temperature.
		if err != nil || t < -50000 || t > 200000 {
			continue
		}
		if !ok || t > milliC {
			milliC, ok = t, true
		}
	}
	return milliC, ok
}
