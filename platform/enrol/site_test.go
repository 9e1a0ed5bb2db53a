package enrol

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/provision/claim"
)

// The whole path on a site's brokers as shipped (deploy/mosquitto:
// site.conf, provision.conf, their ACLs), every certificate from the
// platform's CA: a blank box asks anonymously on the provisioning broker,
// the bridge carries its request to the site broker, where the platform
// (as guichet-platform-p1, through the shared subscription) answers; the
// box then connects to the site broker as itself and renews its
// certificate there; revoked, it is refused once the broker has reloaded
// the platform's CRL.
func TestEnrolOnTheShippedSite(t *testing.T) {
	e := newEnv(t)
	e.now = time.Now()
	site := brokertest.StartMosquittoSite(t, brokertest.CAFrom(t, e.ca.cert, e.ca.key))
	// The broker reads the CRL the platform writes.
	e.svc.cfg.CRLFile = site.CRLPath
	e.svc.cfg.Brokers = []string{site.URL()}
	if err := e.svc.WriteCRL(context.Background()); err != nil {
		t.Fatal(err)
	}
	site.Reload(t)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.ca.PEM())
	certPEM, keyPEM, err := e.ca.IssueClient("guichet-platform-p1", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	_, platKey, _ := ed25519.GenerateKey(nil)
	srv := platform.NewServer(platform.ServerConfig{Instance: "p1", Brokers: []string{site.URL()}, Shared: true, Key: platKey,
		TLS:    &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		Logger: e.svc.log, Handlers: e.svc.Handlers()}, e.store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	// The blank box, on the provisioning broker: the broker's certificate
	// only, no certificate of its own.
	cid, _ := claim.NewClientID()
	box := newBox(t)
	answers := make(chan mqtt.Message, 4)
	prov := connect(t, site.ProvisionURL(), cid, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	subscribe(t, prov, claim.ResponseTopic(cid), answers)
	code := e.code(t, "shop-1", "paris-3", "till")
	m := ask(t, prov, claim.RequestTopic(cid), box.payload(t, code, "till-1"), answers)
	resp, err := claim.DecodeResponse(m.Payload())
	if err != nil {
		t.Fatalf("enrolment through the provisioning broker: %v", err)
	}
	prov.Disconnect(100)

	// As itself on the site broker, with what it was given.
	dev := connect(t, resp.Brokers[0], "shop-1/till-1", deviceTLS(t, box, resp.Cert, resp.CA))
	subscribe(t, dev, claim.CertTopic("shop-1", "till-1"), answers)
	renewal, _ := claim.Encode(claim.Renewal{V: 1, CSR: box.csr(t)})
	m = ask(t, dev, claim.RenewTopic("shop-1", "till-1"), renewal, answers)
	iss, err := claim.DecodeIssued(m.Payload())
	if err != nil {
		t.Fatalf("renewal on the site broker: %v", err)
	}
	verify(t, e, iss.Cert, box, "shop-1/till-1")
	dev.Disconnect(100)

	if err := e.svc.Revoke(ctx, "shop-1", "till-1"); err != nil {
		t.Fatal(err)
	}
	site.Reload(t)
	for _, cert := range [][]byte{resp.Cert, iss.Cert} {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(site.URL()).SetClientID("shop-1/till-1").
			SetTLSConfig(deviceTLS(t, box, cert, resp.CA)).SetConnectTimeout(5 * time.Second))
		if tok := c.Connect(); tok.Wait() && tok.Error() == nil {
			c.Disconnect(50)
			t.Fatal("a revoked certificate was let in")
		}
	}
}

func connect(t *testing.T, url, id string, conf *tls.Config) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetTLSConfig(conf).SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s as %s: %v", url, id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

func subscribe(t *testing.T, c mqtt.Client, topic string, into chan mqtt.Message) {
	t.Helper()
	if tok := c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) { into <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", topic, tok.Error())
	}
}

// ask publishes until an answer comes: the platform subscribes once
// connected, and the bridge forwards once up.
func ask(t *testing.T, c mqtt.Client, topic string, payload []byte, answers chan mqtt.Message) mqtt.Message {
	t.Helper()
	for i := 0; i < 100; i++ {
		c.Publish(topic, 1, false, payload).Wait()
		select {
		case m := <-answers:
			return m
		case <-time.After(300 * time.Millisecond):
		}
	}
	t.Fatal(errors.New("no answer"))
	return nil
}
