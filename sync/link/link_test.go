package link_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

type rig struct {
	broker  *brokertest.Mosquitto
	store   *platform.Store
	ob      *outbox.Store
	lk      *link.Link
	router  *link.Router // more handlers may be added before runLink
	results chan envelope.Result
	platKey ed25519.PrivateKey
	devKey  ed25519.PrivateKey
	dir     string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{broker: brokertest.StartMosquitto(t), dir: t.TempDir(), results: make(chan envelope.Result, 10000)}
	var err error
	_, r.platKey, _ = ed25519.GenerateKey(nil)
	_, r.devKey, _ = ed25519.GenerateKey(nil)
	r.store, err = platform.OpenStore(filepath.Join(r.dir, "platform.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.store.Close() })
	if err := r.store.Enrol(context.Background(), "t1", "d1", r.devKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	r.ob, err = outbox.Open(filepath.Join(r.dir, "outbox.db"), outbox.Identity{Tenant: "t1", Device: "d1", Key: r.devKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.ob.Close() })
	rt := link.NewRouter()
	rt.HandleResults(func(res envelope.Result) { r.results <- res }, "test")
	r.router = rt
	r.lk, err = link.New(link.Config{Tenant: "t1", Device: "d1", Brokers: []string{r.broker.URL()},
		PlatformKey: r.platKey.Public().(ed25519.PublicKey), Window: 200, AckTimeout: time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, KeepAlive: 2 * time.Second,
		Router: rt}, r.ob)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runPlatform starts a platform instance until the returned stop is called.
func (r *rig) runPlatform(t *testing.T, name string) (stop func()) {
	srv := platform.NewServer(platform.ServerConfig{Instance: name, Brokers: []string{r.broker.URL()}, Key: r.platKey,
		BatchMax: 500, BatchDelay: time.Millisecond}, r.store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	return func() { cancel(); wg.Wait() }
}

func (r *rig) runLink(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.lk.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func (r *rig) append(t *testing.T, n int, prefix string) {
	for i := 0; i < n; i++ {
		if _, err := r.ob.Append(context.Background(), outbox.Record{Key: fmt.Sprintf("%s-%d", prefix, i), Type: "test", Body: []byte(`{"i":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *rig) waitDrained(t *testing.T, want uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if st := r.ob.Stats(); st.Depth == 0 && st.LastSeq == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("outbox not drained: %+v", r.ob.Stats())
}

func (r *rig) checkApplied(t *testing.T, want int) {
	t.Helper()
	recs, err := r.store.Records(context.Background(), "t1", "d1")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != want {
		t.Fatalf("platform applied %d records, want %d", len(recs), want)
	}
	for i, rec := range recs {
		if rec.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d: applied out of order or twice", i, rec.Seq)
		}
	}
}

func TestRecordsReachPlatformOnceInOrder(t *testing.T) {
	r := newRig(t)
	stop := r.runPlatform(t, "p1")
	defer stop()
	r.runLink(t)
	r.append(t, 500, "a")
	r.waitDrained(t, 500)
	r.checkApplied(t, 500)
	if got := len(r.results); got < 500 {
		t.Fatalf("%d results delivered, want 500", got)
	}
}

func TestPlatformDownThenUp(t *testing.T) {
	r := newRig(t)
	r.runLink(t)
	r.append(t, 300, "q")
	time.Sleep(300 * time.Millisecond)
	if st := r.ob.Stats(); st.Depth != 300 {
		t.Fatalf("records acked with no platform running: %+v", st)
	}
	stop := r.runPlatform(t, "p1")
	defer stop()
	r.waitDrained(t, 300)
	r.checkApplied(t, 300)
}

func TestBrokerKilledMidSync(t *testing.T) {
	r := newRig(t)
	stop := r.runPlatform(t, "p1")
	defer stop()
	r.runLink(t)
	r.append(t, 400, "b")
	r.broker.Kill()
	r.append(t, 400, "c")
	r.broker.Restart()
	r.waitDrained(t, 800)
	r.checkApplied(t, 800)
}

func TestTwoPlatformInstancesShareTheLoad(t *testing.T) {
	r := newRig(t)
	mk := func(name string) func() {
		srv := platform.NewServer(platform.ServerConfig{Instance: name, Brokers: []string{r.broker.URL()}, Key: r.platKey,
			Shared: true, BatchMax: 100, BatchDelay: time.Millisecond}, r.store, nil)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); srv.Run(ctx) }()
		return func() { cancel(); wg.Wait() }
	}
	s1, s2 := mk("p1"), mk("p2")
	defer s1()
	defer s2()
	time.Sleep(200 * time.Millisecond)
	r.runLink(t)
	r.append(t, 1000, "s")
	r.waitDrained(t, 1000)
	r.checkApplied(t, 1000)
}

// hostile publishes raw MQTT messages, as an attacker on the broker would.
func hostile(t *testing.T, url string) mqtt.Client {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("intruder"))
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func publish(t *testing.T, c mqtt.Client, topic string, payload []byte) {
	if tok := c.Publish(topic, 1, false, payload); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
}

func TestHostileMessagesAreRefusedAndCounted(t *testing.T) {
	r := newRig(t)
	srv := platform.NewServer(platform.ServerConfig{Instance: "p1", Brokers: []string{r.broker.URL()}, Key: r.platKey, BatchMax: 100}, r.store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	r.append(t, 3, "h")
	genuine, err := r.ob.Pending(context.Background(), 0, 1)
	if err != nil || len(genuine) != 1 {
		t.Fatal("no pending record to keep", err)
	}
	r.runLink(t)
	r.waitDrained(t, 3)

	ents := make(chan []byte, 1)
	// A genuine frame of the device, kept to replay it.
	_, otherKey, _ := ed25519.GenerateKey(nil)
	ob2, err := outbox.Open(filepath.Join(r.dir, "evil.db"), outbox.Identity{Tenant: "t1", Device: "d1", Key: otherKey})
	if err != nil {
		t.Fatal(err)
	}
	defer ob2.Close()
	e, err := ob2.Append(context.Background(), outbox.Record{Key: "forged", Type: "test", Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	ents <- e.Frame

	c := hostile(t, r.broker.URL())
	topic := envelope.Topics{Tenant: "t1", Device: "d1"}
	publish(t, c, topic.Records(), []byte("GQ"))                                                      // truncated
	publish(t, c, topic.Records(), make([]byte, envelope.MaxFrame+1))                                 // oversized
	publish(t, c, topic.Records(), []byte(strings.Repeat("not a frame at all, just some text. ", 4))) // garbage
	publish(t, c, topic.Records(), <-ents)                                                            // signed by another key
	publish(t, c, envelope.Topics{Tenant: "t1", Device: "ghost"}.Records(), e.Frame)
	// Downlink: a forged ack that would make the device forget records,
	// a garbage command, an ack for another device.
	forged, _ := json.Marshal(envelope.Ack{Tenant: "t1", Device: "d1", Upto: 1000})
	publish(t, c, topic.Acks(), envelope.Seal(otherKey, forged))
	publish(t, c, topic.Commands(), []byte{0xff, 0x00, 0x13})
	other, _ := json.Marshal(envelope.Ack{Tenant: "t1", Device: "d2", Upto: 1})
	publish(t, c, topic.Acks(), envelope.Seal(r.platKey, other))

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n := uint64(0)
		for _, v := range srv.Refused() {
			n += v
		}
		if n >= 5 && r.lk.Status().Refused >= 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	refused := srv.Refused()
	for _, reason := range []string{"envelope: frame truncated", "envelope: frame larger than 262144 bytes", "envelope: not a guichet frame (bad magic)", "bad signature", "unknown device"} {
		if refused[reason] == 0 {
			t.Errorf("platform did not count %q: %v", reason, refused)
		}
	}
	if got := r.lk.Status().Refused; got < 3 {
		t.Errorf("device refused %d hostile downlink messages, want 3", got)
	}
	// Nothing was applied or forgotten because of them, and sync goes on.
	r.checkApplied(t, 3)
	r.append(t, 2, "after")
	r.waitDrained(t, 5)
	r.checkApplied(t, 5)
	// A genuine record replayed: counted as a duplicate, not applied again.
	st, _ := r.store.Stats(context.Background())
	before := st[0].Duplicates
	publish(t, c, topic.Records(), genuine[0].Frame)
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st, _ = r.store.Stats(context.Background()); st[0].Duplicates > before {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st[0].Duplicates != before+1 {
		t.Fatalf("replayed record: duplicates %d, want %d", st[0].Duplicates, before+1)
	}
	r.checkApplied(t, 5)
}
