package link_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/sync/platform"
)

type rig struct {
	broker  *brokertest.Mosquitto
	store   *platform.Store
	ob      *outbox.Store
	lk      *link.Link
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
	r.lk, err = link.New(link.Config{Tenant: "t1", Device: "d1", Brokers: []string{r.broker.URL()},
		PlatformKey: r.platKey.Public().(ed25519.PublicKey), Window: 200, AckTimeout: time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, KeepAlive: 2 * time.Second,
		OnResult: func(res envelope.Result) { r.results <- res }}, r.ob)
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
