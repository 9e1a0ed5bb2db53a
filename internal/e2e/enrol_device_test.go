package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/platform/enrol"
	"github.com/guichet/guichet/provision"
	"github.com/guichet/guichet/provision/identity"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

// TestDeviceEnrolsWithThePlatform runs the device's side of enrolment
// (package provision) against the platform's (platform/enrol) on the
// shipped site brokers: the box enrols through the provisioning broker,
// its link connects to the site broker as itself with the issued
// certificate, its records are applied under the record key it sent, and
// its certificate, short-lived here, is renewed by the platform over the
// link's session before it runs out.
func TestDeviceEnrolsWithThePlatform(t *testing.T) {
	dir := t.TempDir()
	store, err := platform.OpenStore(filepath.Join(dir, "platform.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ca, err := enrol.LoadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	site := brokertest.StartMosquittoSite(t, brokertest.CAFrom(t, ca.Cert(), caKey(t, filepath.Join(dir, "ca", "ca.key"))))
	platPub, platKey, _ := ed25519.GenerateKey(nil)
	const life = 15 * time.Second
	svc, err := enrol.New(enrol.Config{CA: ca, Store: store, PlatformKey: platPub, Brokers: []string{site.URL()},
		Validity: life, CRLFile: filepath.Join(dir, "crl.pem"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM())
	certPEM, keyPEM, err := ca.IssueClient("guichet-platform-p1", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := platform.NewServer(platform.ServerConfig{Instance: "p1", Brokers: []string{site.URL()}, Shared: true, Key: platKey,
		TLS:    &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		Logger: slog.New(slog.DiscardHandler), Handlers: svc.Handlers()}, store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); srv.Run(ctx) }()

	// The box: an identity key in a file, its record key, the code.
	state := filepath.Join(dir, "box")
	key, err := identity.Open(ctx, config.Identity{Kind: config.IdentityFile, KeyFile: filepath.Join(state, "identity.pem")})
	if err != nil {
		t.Fatal(err)
	}
	defer key.Close()
	_, rk, _ := ed25519.GenerateKey(nil)
	code, _, err := svc.NewCode(ctx, "shop-1", "paris-3", "till", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ectx, ecancel := context.WithTimeout(ctx, 30*time.Second)
	e, err := provision.Enrol(ectx, provision.Options{Broker: site.ProvisionURL(), CA: pool, Code: code.String(), Device: "till-1",
		Key: key, RecordKey: rk.Public().(ed25519.PublicKey), StateDir: state})
	ecancel()
	if err != nil {
		t.Fatalf("enrol: %v", err)
	}
	if e.String() != "shop-1/till-1 (site paris-3, role till)" || e.Brokers[0] != site.URL() {
		t.Fatalf("enrolment: %v %v", e, e.Brokers)
	}

	cfg := &config.Daemon{StateDir: state, Enrolment: config.Enrolment{RenewBefore: config.RenewBefore{Fraction: 0.5}}}
	dev, err := provision.OpenDevice(cfg, key)
	if err != nil {
		t.Fatal(err)
	}
	first := dev.Credentials.Leaf()
	ob, err := outbox.Open(filepath.Join(state, "outbox.db"), outbox.Identity{Tenant: cfg.Device.Tenant, Device: cfg.Device.ID, Key: rk})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	router := link.NewRouter()
	lk, err := link.New(link.Config{Tenant: cfg.Device.Tenant, Device: cfg.Device.ID, Brokers: dev.Enrolment.Brokers,
		TLS: dev.Credentials.TLSConfig(), PlatformKey: dev.Enrolment.PlatformKey, Router: router,
		AckTimeout: time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}, ob)
	if err != nil {
		t.Fatal(err)
	}
	rn, err := dev.Renewer(lk.Publish, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	router.HandleRaw(rn.Topic(), rn.Deliver)
	wg.Add(2)
	go func() { defer wg.Done(); lk.Run(ctx) }()
	go func() { defer wg.Done(); rn.Run(ctx) }()

	for i := 0; i < 5; i++ {
		if _, err := ob.Append(ctx, outbox.Record{Key: "k" + string(rune('a'+i)), Type: "test", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for ob.Stats().Depth != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if st := ob.Stats(); st.Depth != 0 {
		t.Fatalf("records not applied over the enrolled link: %+v %+v", st, lk.Status())
	}
	recs, err := store.Records(ctx, "shop-1", "till-1")
	if err != nil || len(recs) != 5 {
		t.Fatalf("platform holds %d records: %v", len(recs), err)
	}
	for rn.Renewed() == 0 && time.Now().Before(first.NotAfter) {
		time.Sleep(50 * time.Millisecond)
	}
	if rn.Renewed() == 0 {
		t.Fatalf("certificate not renewed by the platform before it ran out (%v); link %+v", first.NotAfter, lk.Status())
	}
	if cur := dev.Credentials.Leaf(); !cur.NotAfter.After(first.NotAfter) || cur.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("renewed certificate not in use")
	}
}

// caKey reads the platform CA's key (PKCS#8 PEM) for the test broker.
func caKey(t testing.TB, path string) *ecdsa.PrivateKey {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("CA key: not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*ecdsa.PrivateKey)
}
