package provision

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/provision/provisiontest"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

// TestRenewerChecksAndRetries drives a renewer with a publish function
// that answers as the test says: silence, a refusal, certificates it must
// not take, then a good one.
func TestRenewerChecksAndRetries(t *testing.T) {
	ca := provisiontest.NewCA(t, "platform CA")
	other := provisiontest.NewCA(t, "another CA")
	key := newKey(t)
	dir, e := enrolled(t, ca, key, time.Hour)
	// Due: 50 minutes of its hour gone, less than a third left.
	old, _ := x509.ParseCertificate(ca.Issue(t, key.Public(), "shop1/till-7", time.Now().Add(-50*time.Minute), time.Hour))
	e.Cert = old
	creds, err := NewCredentials(e, key)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(k Key, ca *provisiontest.CA, cn string, life time.Duration) []byte {
		b, _ := claim.Encode(claim.Issued{V: claim.Version, Cert: ca.Issue(t, k.Public(), cn, time.Now().Add(-time.Second), life)})
		return b
	}
	refusal, _ := claim.Encode(claim.Issued{V: claim.Version, Error: "device revoked"})
	// One list of answers per renewal sent; nil is silence.
	script := [][][]byte{
		nil,
		{refusal},
		{[]byte(`{"v":1,"cert":"AAAA","extra":1}`), issue(newKey(t), ca, "shop1/till-7", time.Hour),
			issue(key, other, "shop1/till-7", time.Hour), issue(key, ca, "shop1/till-8", time.Hour),
			issue(key, ca, "shop1/till-7", 5*time.Minute), // not later than the current one
			issue(key, ca, "shop1/till-7", 2*time.Hour)},
	}
	var mu sync.Mutex
	sent, topics := 0, []string{}
	var r *Renewer
	publish := func(ctx context.Context, topic string, p []byte) error {
		if _, err := claim.DecodeRenewal(p); err != nil {
			t.Errorf("renewal sent: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		topics = append(topics, topic)
		if sent >= len(script) {
			return errors.New("no more answers")
		}
		for _, a := range script[sent] {
			r.Deliver(a)
		}
		sent++
		return nil
	}
	r, err = NewRenewer(RenewerConfig{StateDir: dir, Enrolment: e, Credentials: creds, Key: key, Publish: publish,
		AnswerTimeout: 100 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The renewer's answer buffer holds four; deliver the third batch one
	// by one as it reads them.
	r.answers = make(chan []byte, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for r.Renewed() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	if r.Renewed() != 1 {
		t.Fatalf("renewed %d times", r.Renewed())
	}
	leaf := creds.Leaf()
	if time.Until(leaf.NotAfter) < 90*time.Minute || !key.PublicKey.Equal(leaf.PublicKey) {
		t.Fatalf("took the wrong certificate: expires %v", leaf.NotAfter)
	}
	mu.Lock()
	if sent != 3 || topics[0] != "guichet/v1/shop1/till-7/up/renew" {
		t.Fatalf("%d renewals sent on %v; want 3 (silence, refusal, answer)", sent, topics)
	}
	mu.Unlock()
	onDisk, err := LoadEnrolment(dir)
	if err != nil || !onDisk.Cert.Equal(leaf) {
		t.Fatalf("renewed certificate not on disk: %v", err)
	}
	tc := creds.TLSConfig()
	if got, err := tc.GetClientCertificate(nil); err != nil || !got.Leaf.Equal(leaf) {
		t.Fatalf("handshake certificate: %v", err)
	}
}

// TestRenewalOverTheLink enrols a device with certificates that last a
// few seconds, runs its link with mutual TLS and its renewer, and checks
// that the certificate is renewed by itself before it runs out and that,
// once the first one has expired, a new connection is let in: it showed
// the renewed certificate.
func TestRenewalOverTheLink(t *testing.T) {
	const life = 12 * time.Second
	ca := provisiontest.NewCA(t, "platform CA")
	b := provisiontest.StartBroker(t, ca)
	p := provisiontest.StartPlatform(t, b, ca)
	p.Set(func(p *provisiontest.Platform) { p.Life = life })
	key := newKey(t)
	_, rk, _ := ed25519.GenerateKey(nil)
	o := enrolOptions(t, b, ca, p)
	o.Key, o.RecordKey = key, rk.Public().(ed25519.PublicKey)
	if _, err := Enrol(ctxT(t), o); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Daemon{StateDir: o.StateDir, Enrolment: config.Enrolment{RenewBefore: config.RenewBefore{Fraction: 0.5}}}
	dev, err := OpenDevice(cfg, key)
	if err != nil {
		t.Fatal(err)
	}
	first := dev.Credentials.Leaf()
	ob, err := outbox.Open(filepath.Join(o.StateDir, "outbox.db"), outbox.Identity{Tenant: cfg.Device.Tenant, Device: cfg.Device.ID, Key: rk})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	router := link.NewRouter()
	lk, err := link.New(link.Config{Tenant: cfg.Device.Tenant, Device: cfg.Device.ID, Brokers: dev.Enrolment.Brokers,
		TLS: dev.Credentials.TLSConfig(), PlatformKey: dev.Enrolment.PlatformKey, Router: router,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}, ob)
	if err != nil {
		t.Fatal(err)
	}
	rn, err := dev.Renewer(lk.Publish, nil)
	if err != nil {
		t.Fatal(err)
	}
	router.HandleRaw(rn.Topic(), rn.Deliver)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); lk.Run(ctx) }()
	go func() { defer wg.Done(); rn.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	// Renewed by itself, before the first certificate ran out.
	for rn.Renewed() == 0 && time.Now().Before(first.NotAfter) {
		time.Sleep(50 * time.Millisecond)
	}
	if rn.Renewed() == 0 {
		t.Fatalf("not renewed before expiry; link %+v\n%s", lk.Status(), b.Log())
	}
	renewed := dev.Credentials.Leaf()
	if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 || !renewed.NotAfter.After(first.NotAfter) {
		t.Fatal("the certificate in use did not change")
	}
	// Past the first certificate's end, the broker starts again: the link
	// gets in only with the renewed certificate, without a restart of its
	// own.
	time.Sleep(time.Until(first.NotAfter) + time.Second)
	for len(p.Status) > 0 {
		<-p.Status
	}
	b.Stop()
	b.Start()
	// Its status says online (a last will, offline, may come first).
	timeout := time.After(20 * time.Second)
	for online := false; !online; {
		select {
		case s := <-p.Status:
			online = strings.HasPrefix(s, "guichet/v1/shop1/till-7/up/status {\"online\":true")
		case <-timeout:
			t.Fatalf("the link did not come back after the first certificate expired: %+v\n%s", lk.Status(), b.Log())
		}
	}
	if !lk.Status().Connected {
		t.Fatalf("link: %+v", lk.Status())
	}
}
