package platform

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/sync/envelope"
)

// Versions only grow, per device and stream, whichever handle on the
// store allocates them (two instances, or push beside a running platform).
func TestNextVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s1, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ctx := context.Background()
	var last uint64
	for i := range 6 {
		s := []*Store{s1, s2}[i%2]
		v, err := s.NextVersion(ctx, "t1", "d1", "config")
		if err != nil || v != last+1 {
			t.Fatalf("version %d after %d: %v", v, last, err)
		}
		last = v
	}
	for _, other := range [][3]string{{"t1", "d1", "cmd.sync"}, {"t1", "d2", "config"}, {"t2", "d1", "config"}} {
		if v, err := s1.NextVersion(ctx, other[0], other[1], other[2]); err != nil || v != 1 {
			t.Errorf("%v: version %d, %v; want 1", other, v, err)
		}
	}
}

func appliedFrame(t *testing.T, key ed25519.PrivateKey, a envelope.Applied) []byte {
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return envelope.Seal(key, b)
}

func TestVerifyAppliedHostile(t *testing.T) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	pub, key, _ := ed25519.GenerateKey(nil)
	if err := s.Enrol(ctx, "t1", "d1", pub); err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(nil)
	good := envelope.Applied{Tenant: "t1", Device: "d1", ID: "c1", Stream: "config", Version: 3, Status: envelope.StatusApplied, Current: 3, At: 1}
	topic := envelope.Topics{Tenant: "t1", Device: "d1"}.Applied()
	if a, err := s.VerifyApplied(ctx, topic, appliedFrame(t, key, good)); err != nil || *a != good {
		t.Fatalf("good report: %+v, %v", a, err)
	}
	other := good
	other.Device = "d2"
	for name, tc := range map[string]struct {
		topic string
		frame []byte
	}{
		"forged":            {topic, appliedFrame(t, otherKey, good)},
		"other device's":    {topic, appliedFrame(t, key, other)},
		"unknown device":    {envelope.Topics{Tenant: "t1", Device: "d9"}.Applied(), appliedFrame(t, key, good)},
		"records topic":     {envelope.Topics{Tenant: "t1", Device: "d1"}.Records(), appliedFrame(t, key, good)},
		"not under root":    {"x/t1/d1/up/applied", appliedFrame(t, key, good)},
		"not a frame":       {topic, []byte("hello")},
		"not a report":      {topic, envelope.Seal(key, []byte(`{"tenant":"t1","device":"d1"}`))},
		"truncated":         {topic, appliedFrame(t, key, good)[:20]},
		"wildcard in topic": {"guichet/v1/+/d1/up/applied", appliedFrame(t, key, good)},
	} {
		if a, err := s.VerifyApplied(ctx, tc.topic, tc.frame); err == nil {
			t.Errorf("%s: accepted %+v", name, a)
		}
	}
}

// A running platform records the reports of its devices, whoever pushed
// the command, and a device's current version raises the counter.
func TestServerRecordsReports(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	s, err := OpenStore(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	pub, devKey, _ := ed25519.GenerateKey(nil)
	if err := s.Enrol(ctx, "t1", "d1", pub); err != nil {
		t.Fatal(err)
	}
	_, platKey, _ := ed25519.GenerateKey(nil)
	srv := NewServer(ServerConfig{Instance: "p1", Brokers: []string{b.URL()}, Key: platKey}, s, nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("d1"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	topic := envelope.Topics{Tenant: "t1", Device: "d1"}.Applied()
	_, forger, _ := ed25519.GenerateKey(nil)
	refused := envelope.Applied{Tenant: "t1", Device: "d1", ID: "c1", Stream: "cmd.sync", Version: 1,
		Status: envelope.StatusRefused, Reason: envelope.ReasonOld, Detail: "version 1 is below the applied 7", Current: 7, At: 1}
	deadline := time.Now().Add(15 * time.Second)
	for {
		// Sent until recorded: the server subscribes once it is connected.
		c.Publish(topic, 1, false, appliedFrame(t, forger, envelope.Applied{Tenant: "t1", Device: "d1", ID: "forged", Stream: "config",
			Version: 9, Status: envelope.StatusApplied, Current: 9, At: 1})).Wait()
		c.Publish(topic, 1, false, appliedFrame(t, devKey, refused)).Wait()
		rs, err := s.AppliedReports(ctx, "t1", "d1")
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) > 0 {
			if len(rs) != 1 || rs[0].Applied != refused {
				t.Fatalf("reports %+v", rs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no report recorded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, err := s.NextVersion(ctx, "t1", "d1", "cmd.sync"); err != nil || v != 8 {
		t.Errorf("next version %d, %v; want 8, above the device's 7", v, err)
	}
	if v, err := s.NextVersion(ctx, "t1", "d1", "config"); err != nil || v != 1 {
		t.Errorf("a forged report moved the config stream: %d, %v", v, err)
	}
	// The forged report may be handled after the genuine one was recorded:
	// wait for its count too.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		for what, n := range srv.Refused() {
			if strings.HasPrefix(what, "applied report") && n > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("forged report not counted: %v", srv.Refused())
		}
	}
}
