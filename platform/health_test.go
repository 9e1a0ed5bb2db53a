package platform

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/guichet/guichet/sync/envelope"
)

func TestHealthStore(t *testing.T) {
	ctx := context.Background()
	s, err := OpenStore(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pub, key, _ := ed25519.GenerateKey(nil)
	_, other, _ := ed25519.GenerateKey(nil)
	if err := s.Enrol(ctx, "t1", "d1", pub); err != nil {
		t.Fatal(err)
	}
	if err := s.Enrol(ctx, "t1", "quiet", pub); err != nil {
		t.Fatal(err)
	}
	tp := envelope.Topics{Tenant: "t1", Device: "d1"}
	now := time.UnixMilli(1764930000000)

	// Status, then the last will: offline, depth and degraded kept.
	if _, err := s.RecordStatus(ctx, tp.Status(), []byte(`{"online":true,"depth":4,"at":5,"degraded":["devices.printer"]}`), "p1", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordStatus(ctx, tp.Status(), []byte(`{"online":false}`), "p2", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	d, err := s.DeviceHealthOf(ctx, "t1", "d1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Online || d.Depth != 4 || len(d.Degraded) != 1 || d.LastSeen != now.Add(time.Second).UnixMilli() || d.Instance != "p2" {
		t.Fatalf("after the will: %+v", d)
	}
	for name, c := range map[string]struct{ topic, payload string }{
		"unknown device": {envelope.Topics{Tenant: "t1", Device: "ghost"}.Status(), `{"online":true}`},
		"wrong topic":    {tp.Records(), `{"online":true}`},
		"garbage":        {tp.Status(), `{"online":`},
		"not a topic":    {"elsewhere/x", `{"online":true}`},
	} {
		if _, err := s.RecordStatus(ctx, c.topic, []byte(c.payload), "p1", now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := s.RecordStatus(ctx, envelope.Topics{Tenant: "t1", Device: "ghost"}.Status(), []byte(`{"online":true}`), "p1", now); !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("unknown device: %v", err)
	}

	// Health: checked with the record key, newer only.
	h := envelope.Health{Tenant: "t1", Device: "d1", At: now.UnixMilli(), Uptime: 3, Queue: envelope.HealthQueue{Depth: 9},
		Versions: map[string]string{"main": "v1.0.0"}}
	frame := func(h envelope.Health, k ed25519.PrivateKey) []byte {
		b, _ := json.Marshal(h)
		return envelope.Seal(k, b)
	}
	got, err := s.VerifyHealth(ctx, tp.Health(), frame(h, key))
	if err != nil {
		t.Fatal(err)
	}
	if kept, err := s.RecordHealth(ctx, got, "p1", now); !kept || err != nil {
		t.Fatalf("record: %v %v", kept, err)
	}
	older := h
	older.At--
	older.Uptime = 1
	if kept, _ := s.RecordHealth(ctx, &older, "p1", now); kept {
		t.Error("older report kept")
	}
	for name, c := range map[string]struct {
		topic string
		frame []byte
	}{
		"wrong key":      {tp.Health(), frame(h, other)},
		"other's topic":  {envelope.Topics{Tenant: "t1", Device: "quiet"}.Health(), frame(h, key)},
		"unknown device": {envelope.Topics{Tenant: "t1", Device: "ghost"}.Health(), frame(h, key)},
		"status topic":   {tp.Status(), frame(h, key)},
		"not a frame":    {tp.Health(), []byte(`{"tenant":"t1"}`)},
		"bad payload":    {tp.Health(), envelope.Seal(key, []byte(`{"tenant":"t1","device":"d1"}`))},
	} {
		if _, err := s.VerifyHealth(ctx, c.topic, c.frame); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	all, err := s.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Device != "d1" || all[1].Device != "quiet" {
		t.Fatalf("devices %+v", all)
	}
	if d := all[0]; d.Health == nil || d.Health.Uptime != 3 || d.Versions["main"] != "v1.0.0" || d.Depth != 9 {
		t.Fatalf("d1 %+v", d)
	}
	if q := all[1]; q.Online || q.LastSeen != 0 || q.Health != nil || q.Degraded == nil {
		t.Fatalf("never heard of: %+v", q)
	}
}
