package link_test

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
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

// TestTLSWithDeviceCertificateAndACL runs the device and the platform
// against a broker that requires client certificates and applies the
// project's ACL, and checks that a device cannot write as another.
func TestTLSWithDeviceCertificateAndACL(t *testing.T) {
	ca := brokertest.NewCA(t)
	b := brokertest.StartMosquittoTLS(t, ca)
	dir := t.TempDir()
	_, platKey, _ := ed25519.GenerateKey(nil)
	_, devKey, _ := ed25519.GenerateKey(nil)
	store, err := platform.OpenStore(filepath.Join(dir, "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	store.Enrol(context.Background(), "t1", "d1", devKey.Public().(ed25519.PublicKey))
	store.Enrol(context.Background(), "t1", "d2", devKey.Public().(ed25519.PublicKey))
	ob, err := outbox.Open(filepath.Join(dir, "o.db"), outbox.Identity{Tenant: "t1", Device: "d1", Key: devKey})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	srv := platform.NewServer(platform.ServerConfig{Instance: "p1", Brokers: []string{b.URL()}, TLS: ca.ClientTLS(t, "guichet-platform-p1"),
		Key: platKey, Shared: true}, store, nil)
	lk, err := link.New(link.Config{Tenant: "t1", Device: "d1", Brokers: []string{b.URL()}, TLS: ca.ClientTLS(t, "t1/d1"),
		PlatformKey: platKey.Public().(ed25519.PublicKey), AckTimeout: time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}, ob)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(2)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	go func() { defer wg.Done(); lk.Run(ctx) }()

	for i := 0; i < 20; i++ {
		if _, err := ob.Append(ctx, outbox.Record{Key: "k" + string(rune('a'+i)), Type: "test", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for ob.Stats().Depth != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := ob.Stats(); st.Depth != 0 || !lk.Status().Connected {
		t.Fatalf("not drained over TLS: %+v %+v", st, lk.Status())
	}

	// A certificate of tenant t1 (CN t1/d1x, so that it does not take the
	// running link's client id over) writing under d2's topic: the ACL
	// drops it.
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("ignored").SetTLSConfig(ca.ClientTLS(t, "t1/d1x")))
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	// The frame itself is valid for d2 (same key enrolled), so only the
	// broker's ACL stands in its way.
	ob2, err := outbox.Open(filepath.Join(dir, "o2.db"), outbox.Identity{Tenant: "t1", Device: "d2", Key: devKey})
	if err != nil {
		t.Fatal(err)
	}
	defer ob2.Close()
	e, _ := ob2.Append(ctx, outbox.Record{Key: "spoof", Type: "test", Body: []byte(`{}`)})
	c.Publish(envelope.Topics{Tenant: "t1", Device: "d2"}.Records(), 1, false, e.Frame).Wait()
	// Control: the same frame from d2's own certificate is applied.
	c2 := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetTLSConfig(ca.ClientTLS(t, "t1/d2")))
	if tok := c2.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c2.Disconnect(100)
	time.Sleep(500 * time.Millisecond)
	recs, _ := store.Records(ctx, "t1", "d2")
	if len(recs) != 0 {
		t.Fatal("a device wrote under another device's topic")
	}
	c2.Publish(envelope.Topics{Tenant: "t1", Device: "d2"}.Records(), 1, false, e.Frame).Wait()
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if recs, _ = store.Records(ctx, "t1", "d2"); len(recs) == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(recs) != 1 {
		t.Fatal("d2's own record over its own certificate was not applied")
	}
	// Without a certificate the broker refuses the connection.
	nc := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("anon").SetConnectTimeout(2 * time.Second))
	if tok := nc.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		nc.Disconnect(0)
		t.Fatal("connected without a client certificate")
	}
}
