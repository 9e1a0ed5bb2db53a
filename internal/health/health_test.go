package health

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

type fakeQueue struct {
	st     outbox.Stats
	oldest time.Time
	err    error
}

func (q *fakeQueue) Stats() outbox.Stats { return q.st }
func (q *fakeQueue) Oldest(context.Context) (time.Time, bool, error) {
	return q.oldest, !q.oldest.IsZero(), q.err
}

type fakeLink struct{ st link.Status }

func (l *fakeLink) Status() link.Status { return l.st }

func TestGatherAndSend(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	now := time.UnixMilli(1764930000000)
	thermal := t.TempDir()
	for zone, v := range map[string]string{"thermal_zone0": "41000\n", "thermal_zone1": "52500\n", "thermal_zone2": "-273000\n", "thermal_zone3": "junk"} {
		os.MkdirAll(filepath.Join(thermal, zone), 0o755)
		os.WriteFile(filepath.Join(thermal, zone, "temp"), []byte(v), 0o644)
	}
	q := &fakeQueue{st: outbox.Stats{Depth: 7, Blocked: 1}, oldest: now.Add(-90 * time.Second)}
	l := &fakeLink{st: link.Status{Connected: true, Reconnects: 2, Sent: 40, Resent: 3, LastAck: now.Add(-time.Second)}}
	b := NewBoard()
	notified := 0
	b.Notify(func() { notified++ })
	b.Add("devices.code_readers[0]", "serial")
	b.Add("devices.printer", "escpos")
	b.Decoded("devices.code_readers[0]")
	b.Decoded("devices.code_readers[0]")
	b.Fail("devices.printer", "not answering")
	b.Fail("devices.printer", "not answering") // same state: no second notice
	b.Error("devices.code_readers[0]")
	var topic string
	var frame []byte
	g, err := New(Config{Tenant: "t1", Device: "d1", Key: key, Interval: time.Minute, StateDir: t.TempDir(),
		ThermalDir: thermal, Started: now.Add(-61 * time.Second)}, q, l, b,
		func(_ context.Context, tp string, p []byte) error { topic, frame = tp, p; return nil })
	if err != nil {
		t.Fatal(err)
	}
	g.now = func() time.Time { return now }
	if err := g.Send(context.Background()); err != nil {
		t.Fatal(err)
	}
	if topic != (envelope.Topics{Tenant: "t1", Device: "d1"}).Health() {
		t.Fatalf("topic %q", topic)
	}
	payload, err := envelope.Open(pub, frame)
	if err != nil {
		t.Fatalf("report not signed with the record key: %v", err)
	}
	h, err := envelope.DecodeHealth(payload)
	if err != nil {
		t.Fatalf("report refused by its own parser: %v", err)
	}
	if h.Uptime != 61 || h.Queue.Depth != 7 || h.Queue.Blocked != 1 || h.Queue.OldestAge != 90 || h.At != now.UnixMilli() {
		t.Errorf("uptime/queue: %+v", h)
	}
	if !h.Link.Connected || h.Link.Reconnects != 2 || h.Link.Sent != 40 || h.Link.LastAck != now.Add(-time.Second).UnixMilli() || h.Link.LastSync != 0 {
		t.Errorf("link: %+v", h.Link)
	}
	if h.TempMilliC == nil || *h.TempMilliC != 52500 {
		t.Errorf("temperature %v, want the highest sane zone 52500", h.TempMilliC)
	}
	if h.DiskTotal == 0 || h.DiskFree > h.DiskTotal {
		t.Errorf("disk %d/%d", h.DiskFree, h.DiskTotal)
	}
	if h.Versions["go"] == "" {
		t.Errorf("versions %v", h.Versions)
	}
	want := []envelope.HealthDevice{
		{Name: "devices.code_readers[0]", Driver: "serial", State: "ok", Errors: 1, Decoded: 2},
		{Name: "devices.printer", Driver: "escpos", State: "degraded", Hint: "not answering", Errors: 2},
	}
	if len(h.Devices) != 2 || h.Devices[0] != want[0] || h.Devices[1] != want[1] {
		t.Errorf("devices %+v, want %+v", h.Devices, want)
	}
	if notified != 1 {
		t.Errorf("%d notices, want 1", notified)
	}
	if d := b.Degraded(); len(d) != 1 || d[0] != "devices.printer" {
		t.Errorf("degraded %v", d)
	}
	b.OK("devices.printer")
	if d := b.Degraded(); d != nil || notified != 2 {
		t.Errorf("after recovery: degraded %v, %d notices", d, notified)
	}
}

func TestGatherWithoutSensorOrDisk(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	q := &fakeQueue{err: errors.New("store closed")}
	g, err := New(Config{Tenant: "t1", Device: "d1", Key: key, Interval: time.Minute, StateDir: "/nonexistent/dir", ThermalDir: t.TempDir()},
		q, &fakeLink{}, nil, func(context.Context, string, []byte) error { return link.ErrNotConnected })
	if err != nil {
		t.Fatal(err)
	}
	h := g.Gather(context.Background())
	if h.TempMilliC != nil || h.DiskTotal != 0 || h.Queue.OldestAge != 0 {
		t.Fatalf("%+v", h)
	}
	if err := h.Check(); err != nil {
		t.Fatal(err)
	}
	if err := g.Send(context.Background()); !errors.Is(err, link.ErrNotConnected) {
		t.Fatalf("send without a session: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	pub := func(context.Context, string, []byte) error { return nil }
	good := Config{Tenant: "t1", Device: "d1", Key: key, Interval: time.Minute}
	for name, c := range map[string]Config{
		"tenant":   {Tenant: "a/b", Device: "d1", Key: key, Interval: time.Minute},
		"device":   {Tenant: "t1", Key: key, Interval: time.Minute},
		"key":      {Tenant: "t1", Device: "d1", Interval: time.Minute},
		"interval": {Tenant: "t1", Device: "d1", Key: key},
	} {
		if _, err := New(c, &fakeQueue{}, &fakeLink{}, nil, pub); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(good, &fakeQueue{}, &fakeLink{}, nil, nil); err == nil {
		t.Error("no publisher: accepted")
	}
}
