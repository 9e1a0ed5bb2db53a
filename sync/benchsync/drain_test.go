package benchsync

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

// backlog is a week offline at a busy till: the brief's 100k records.
const backlog = 100_000

// body is a payment authorisation as the checkout flow appends it.
var body = []byte(`{"amount":"12.34","currency":"CNY","code_kind":"wechat","code_hash":"3f1c9a2be47d05f68a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef","till":"T01"}`)

// quiet logs errors only: the readiness probes are refused with a warning.
var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// BenchmarkDrain reports drain_100k_s and drain_mps, the time and rate at
// which a 100k backlog leaves the outbox (every record applied and acked by
// the platform), and the anchor raw_qos1_mps, what paho and the same broker
// carry when nobody stores, signs, checks or acks anything.
func BenchmarkDrain(b *testing.B) {
	broker := brokertest.StartMosquitto(b)
	for i := 0; i < b.N; i++ {
		frameLen, took := drain(b, broker, backlog)
		benchfig.Report(b, "drain_100k_s", took.Seconds(), "s")
		benchfig.Report(b, "drain_mps", backlog/took.Seconds(), "mps")
		raw := rawQoS1(b, broker, backlog, frameLen)
		benchfig.Report(b, "raw_qos1_mps", backlog/raw.Seconds(), "mps")
	}
}

// TestDrainSmall runs the benchmark's drain on a small backlog, so that
// `go test` checks the rig itself: everything applied once, in order.
func TestDrainSmall(t *testing.T) {
	broker := brokertest.StartMosquitto(t)
	if n, _ := drain(t, broker, 3000); n < 300 {
		t.Fatalf("frame of %d bytes, want a realistic record of some hundred bytes", n)
	}
	if d := rawQoS1(t, broker, 3000, 400); d <= 0 {
		t.Fatalf("raw publish took %v", d)
	}
}

// drain fills an outbox with n records (not timed), then times the link
// draining it through broker to a platform server until every record is
// acked. It checks that the platform applied each record once, in order,
// and returns the size of one frame and the time taken.
func drain(t testing.TB, broker *brokertest.Mosquitto, n int) (int, time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	pub, devKey, _ := ed25519.GenerateKey(nil)
	platPub, platKey, _ := ed25519.GenerateKey(nil)
	tenant, device := "t1", fmt.Sprintf("d%d", time.Now().UnixNano())

	store, err := platform.OpenStore(filepath.Join(dir, "platform.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Enrol(ctx, tenant, device, pub); err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Identity{Tenant: tenant, Device: device, Key: devKey})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	frameLen := fill(t, ob, n)

	// The production defaults (config.Platform and config.Sync).
	srv := platform.NewServer(platform.ServerConfig{Instance: "bench", Brokers: []string{broker.URL()}, Key: platKey,
		BatchMax: 2000, BatchDelay: 2 * time.Millisecond, Logger: quiet}, store, nil)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	waitSubscribed(t, broker, srv)
	probes := srv.Refused()

	lk, err := link.New(link.Config{Tenant: tenant, Device: device, Brokers: []string{broker.URL()},
		PlatformKey: platPub, Window: 4000, AckTimeout: 5 * time.Second, Logger: quiet}, ob)
	if err != nil {
		t.Fatal(err)
	}
	var acks atomic.Int64
	spy := connect(t, broker, "spy", true)
	spy.Subscribe("guichet/v1/+/+/down/ack", 0, func(mqtt.Client, mqtt.Message) { acks.Add(1) }).Wait()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	wg.Add(1)
	go func() { defer wg.Done(); lk.Run(ctx) }()
	deadline := start.Add(2 * time.Minute)
	for ob.Stats().Depth > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained after 2 minutes: %+v, link %+v", ob.Stats(), lk.Status())
		}
		time.Sleep(2 * time.Millisecond)
	}
	took := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	t.Logf("acks %d", acks.Load())
	t.Logf("cpu during drain: user %v sys %v", time.Duration(syscall.TimevalToNsec(ru1.Utime)-syscall.TimevalToNsec(ru0.Utime)), time.Duration(syscall.TimevalToNsec(ru1.Stime)-syscall.TimevalToNsec(ru0.Stime)))
	t.Logf("drained %d records in %v: link %+v, platform %+v", n, took, lk.Status(), mustStats(t, store))

	stats, err := store.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || stats[0].Applied != uint64(n) || stats[0].Rejected != 0 {
		t.Fatalf("platform stats %+v, want %d applied, none rejected", stats, n)
	}
	recs, err := store.Records(ctx, tenant, device)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("platform holds %d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		if r.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d: applied out of order or twice", i, r.Seq)
		}
	}
	if st := lk.Status(); st.Refused != 0 || st.Rejected != 0 {
		t.Fatalf("link refused %d downlink messages, platform rejected %d records", st.Refused, st.Rejected)
	}
	if r := srv.Refused(); !maps.Equal(r, probes) {
		t.Fatalf("platform refused records other than the readiness probes: %v, probes %v", r, probes)
	}
	return frameLen, took
}

// fill appends n records from many writers, so the group commit fills the
// backlog in seconds rather than one fsync per record.
func fill(t testing.TB, ob *outbox.Store, n int) int {
	const writers = 256
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	var frameLen atomic.Int64
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += writers {
				e, err := ob.Append(context.Background(), outbox.Record{Key: fmt.Sprintf("pay-%08d", i), Type: "payment.auth", Body: body})
				if err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
				frameLen.Store(int64(len(e.Frame)))
			}
		}(w)
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(*err)
	}
	if st := ob.Stats(); st.Depth != uint64(n) {
		t.Fatalf("outbox depth %d after filling, want %d", st.Depth, n)
	}
	return int(frameLen.Load())
}

// waitSubscribed publishes a probe on a device topic until the platform
// server counts it as refused: from then on its subscription is in place
// and nothing the link sends is lost for want of a subscriber.
func waitSubscribed(t testing.TB, broker *brokertest.Mosquitto, srv *platform.Server) {
	c := connect(t, broker, "bench-probe", true)
	defer c.Disconnect(50)
	probe := envelope.Topics{Tenant: "probe", Device: "probe"}.Records()
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.Refused()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("platform server did not subscribe within 10 s")
		}
		c.Publish(probe, 1, false, []byte("probe")).Wait()
		time.Sleep(20 * time.Millisecond)
	}
}

// rawQoS1 times n QoS 1 messages of size bytes from one paho client to
// another through broker: publishing without waiting for each PUBACK, as
// the link does, until the subscriber has received them all.
func rawQoS1(t testing.TB, broker *brokertest.Mosquitto, n, size int) time.Duration {
	topic := fmt.Sprintf("bench/raw/%d", time.Now().UnixNano())
	var got atomic.Int64
	all := make(chan struct{})
	sub := connect(t, broker, "bench-raw-sub", true)
	defer sub.Disconnect(50)
	tok := sub.Subscribe(topic, 1, func(mqtt.Client, mqtt.Message) {
		if got.Add(1) == int64(n) {
			close(all)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("raw subscribe: %v", tok.Error())
	}
	pub := connect(t, broker, "bench-raw-pub", true)
	defer pub.Disconnect(50)
	payload := make([]byte, size)
	start := time.Now()
	var last mqtt.Token
	for i := 0; i < n; i++ {
		last = pub.Publish(topic, 1, false, payload)
	}
	select {
	case <-all:
	case <-time.After(2 * time.Minute):
		t.Fatalf("raw QoS 1: %d of %d messages received after 2 minutes", got.Load(), n)
	}
	took := time.Since(start)
	if !last.WaitTimeout(10*time.Second) || last.Error() != nil {
		t.Fatalf("raw publish: %v", last.Error())
	}
	return took
}

func connect(t testing.TB, broker *brokertest.Mosquitto, id string, clean bool) mqtt.Client {
	o := mqtt.NewClientOptions().AddBroker(broker.URL()).SetClientID(fmt.Sprintf("%s-%d", id, time.Now().UnixNano())).
		SetCleanSession(clean).SetAutoReconnect(false).SetOrderMatters(true).SetWriteTimeout(10 * time.Second)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("connect %s: no answer in 10 s", broker.URL())
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("connect %s: %v", broker.URL(), err)
	}
	return c
}

func mustStats(t testing.TB, store *platform.Store) []platform.DeviceStats {
	st, err := store.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}
