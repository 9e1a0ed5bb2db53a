package confine

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/sync/envelope"
)

// site is a broker running the shipped site configuration, with the
// certificates of two devices of tenant shop, one of tenant other, and the
// platform, all from the site's CA.
type site struct {
	ca         *brokertest.CA
	b          *brokertest.Site
	a, bb, c   *tls.Config // shop/A, shop/B, other/C
	plat       *tls.Config
	serverOnly *tls.Config // trusts the broker, presents no certificate
}

func startSite(t *testing.T) *site {
	ca := brokertest.NewCA(t)
	s := &site{ca: ca, b: brokertest.StartMosquittoSite(t, ca)}
	s.a = ca.ClientTLS(t, claim.CommonName("shop", "A"))
	s.bb = ca.ClientTLS(t, claim.CommonName("shop", "B"))
	s.c = ca.ClientTLS(t, claim.CommonName("other", "C"))
	s.plat = ca.ClientTLS(t, "guichet-platform-p1")
	s.serverOnly = &tls.Config{RootCAs: s.a.RootCAs, MinVersion: tls.VersionTLS12}
	return s
}

func leaf(cfg *tls.Config) *x509.Certificate { return cfg.Certificates[0].Leaf }

var (
	shopA  = envelope.Topics{Tenant: "shop", Device: "A"}
	shopB  = envelope.Topics{Tenant: "shop", Device: "B"}
	otherA = envelope.Topics{Tenant: "other", Device: "A"}
	otherC = envelope.Topics{Tenant: "other", Device: "C"}
)

// TestMosquittoDeviceCannotPublishAsAnother: shop/A's certificate writing
// B's records and status, its own device name under another tenant, C's
// records in that tenant, B's down/ topics, and a provisioning answer. None
// reaches its subscriber, while the same subscribers get the controls:
// B's own record and A's own record.
func TestMosquittoDeviceCannotPublishAsAnother(t *testing.T) {
	s := startSite(t)
	var plat, bDown, prov inbox
	p := mustDial(t, s.b.URL(), "ignored", s.plat)
	// What the platform reads: every device's up/.
	subscribe(t, p, envelope.Root+"/+/+/up/#", &plat)
	b := mustDial(t, s.b.URL(), "ignored", s.bb)
	subscribe(t, b, shopB.Down(), &bDown)
	cid, err := claim.NewClientID()
	if err != nil {
		t.Fatal(err)
	}
	pc := mustDial(t, s.b.ProvisionURL(), cid, s.serverOnly)
	subscribe(t, pc, claim.ResponseTopic(cid), &prov)
	a := mustDial(t, s.b.URL(), "ignored", s.a)

	// Controls: B's own record, then A's own, each from publish to arrival.
	t0 := time.Now()
	if err := publish(t, b, shopB.Records(), "control-B", false); err != nil {
		t.Fatal(err)
	}
	dB := plat.waitFor(t, "control-B", 10*time.Second).Sub(t0)
	t0 = time.Now()
	if err := publish(t, a, shopA.Records(), "control-A", false); err != nil {
		t.Fatal(err)
	}
	dA := plat.waitFor(t, "control-A", 10*time.Second).Sub(t0)

	attacks := []struct{ topic, payload string }{
		{shopB.Records(), "attack-B-rec"},
		{shopB.Status(), "attack-B-status"},
		{claim.RenewTopic("shop", "B"), "attack-B-renew"},
		{otherA.Records(), "attack-otherA-rec"},
		{otherC.Records(), "attack-otherC-rec"},
		{shopB.Acks(), "attack-B-ack"},
		{shopB.Commands(), "attack-B-cmd"},
		{shopB.Config(), "attack-B-config"},
		{claim.ResponseTopic(cid), "attack-prov-resp"},
	}
	for _, at := range attacks {
		// Mosquitto answers a refused QoS 1 publish with a PUBACK like
		// any other (MQTT 3.1.1 has no way to say no): the device
		// cannot even tell.
		if err := publish(t, a, at.topic, at.payload, strings.HasSuffix(at.topic, "/status") || strings.HasSuffix(at.topic, "/config")); err != nil {
			t.Errorf("publish %s: %v (Mosquitto 2.0.11 acks a refused publish)", at.topic, err)
		}
	}
	wait := attackWait(max(dA, dB))
	time.Sleep(wait)
	t.Logf("controls arrived in %v (B) and %v (A); waited %v for the attacks", dB, dA, wait)
	for _, in := range []*inbox{&plat, &bDown, &prov} {
		for _, m := range in.all() {
			if strings.HasPrefix(string(m.Payload()), "attack-") {
				t.Errorf("%s reached a subscriber on %s", m.Payload(), m.Topic())
			}
		}
	}
	// Retained messages, checked by a fresh subscriber: none was stored.
	var late inbox
	p2 := mustDial(t, s.b.URL(), "ignored", s.ca.ClientTLS(t, "guichet-platform-p2"))
	subscribe(t, p2, shopB.Status(), &late)
	// B again: its new connection takes the client id (its CN) over from
	// the first one, which the broker closes.
	b2 := mustDial(t, s.b.URL(), "ignored", s.bb)
	subscribe(t, b2, shopB.Config(), &late)
	// Control for the retained check: B's own retained status.
	if err := publish(t, b2, shopB.Status(), "control-B-status", true); err != nil {
		t.Fatal(err)
	}
	late.waitFor(t, "control-B-status", 10*time.Second)
	time.Sleep(wait)
	for _, m := range late.all() {
		if strings.HasPrefix(string(m.Payload()), "attack-") {
			t.Errorf("retained %s stored on %s", m.Payload(), m.Topic())
		}
	}
}

// TestMosquittoDeviceCannotReadAnother: the platform publishes B's acks,
// commands, retained configuration and renewed certificate. B's own
// subscription (the control) gets all four; A, subscribed to each of B's
// topics and to every wildcard that covers them, gets none of them, only
// its own ack.
func TestMosquittoDeviceCannotReadAnother(t *testing.T) {
	s := startSite(t)
	p := mustDial(t, s.b.URL(), "ignored", s.plat)
	// The configuration is retained before anyone subscribes: the broker
	// hands it over at SUBSCRIBE, another path than live delivery.
	if err := publish(t, p, shopB.Config(), "B-config", true); err != nil {
		t.Fatal(err)
	}
	var bIn, aIn inbox
	b := mustDial(t, s.b.URL(), "ignored", s.bb)
	t0 := time.Now()
	if code := subscribe(t, b, shopB.Down(), &bIn); code != 1 {
		t.Fatalf("B's own subscription: SUBACK %#x, want 1", code)
	}
	dRetained := bIn.waitFor(t, "B-config", 10*time.Second).Sub(t0)

	a := mustDial(t, s.b.URL(), "ignored", s.a)
	filters := []string{
		shopB.Acks(), shopB.Commands(), shopB.Config(), claim.CertTopic("shop", "B"),
		shopB.Down(), envelope.Root + "/shop/+/down/#", envelope.Root + "/+/+/down/#",
		envelope.Root + "/#", "#", "$share/g/" + shopB.Down(),
	}
	for _, f := range filters {
		// Mosquitto 2.0.11 grants every subscription (SUBACK with the
		// QoS asked, never 0x80) and checks "read" per message when it
		// delivers: the proof is in what arrives, below.
		if code := subscribe(t, a, f, &aIn); code != 1 {
			t.Errorf("A subscribing %s: SUBACK %#x, want 1 (granted; the ACL filters delivery)", f, code)
		}
	}
	var dLive time.Duration
	for _, m := range []struct{ topic, payload string }{
		{shopB.Acks(), "B-ack"}, {shopB.Commands(), "B-cmd"}, {claim.CertTopic("shop", "B"), "B-cert"},
	} {
		t0 := time.Now()
		if err := publish(t, p, m.topic, m.payload, false); err != nil {
			t.Fatal(err)
		}
		dLive = max(dLive, bIn.waitFor(t, m.payload, 10*time.Second).Sub(t0))
	}
	// Control for A's side: its own ack reaches it through the same
	// subscriptions.
	t0 = time.Now()
	if err := publish(t, p, shopA.Acks(), "A-ack", false); err != nil {
		t.Fatal(err)
	}
	dA := aIn.waitFor(t, "A-ack", 10*time.Second).Sub(t0)
	wait := attackWait(max(dRetained, dLive, dA))
	time.Sleep(wait)
	t.Logf("B got its retained config in %v and its live messages within %v, A its own ack in %v; waited %v", dRetained, dLive, dA, wait)
	for _, m := range aIn.all() {
		if !strings.HasPrefix(m.Topic(), envelope.Root+"/shop/A/") {
			t.Errorf("A read %q on %s", m.Payload(), m.Topic())
		}
	}
	if n := len(aIn.with("A-ack")); n == 0 {
		t.Error("A's own ack did not arrive")
	}
}

// TestMosquittoProvisioningListener: a client without a certificate, on the
// provisioning listener, sends its request and gets its answer (the
// controls) but cannot publish a record or another client's request, and
// reads neither another client's answer nor any device topic.
func TestMosquittoProvisioningListener(t *testing.T) {
	s := startSite(t)
	var plat, bIn, anon inbox
	p := mustDial(t, s.b.URL(), "ignored", s.plat)
	subscribe(t, p, claim.AllRequests, &plat)
	subscribe(t, p, envelope.Root+"/+/+/up/#", &plat)
	b := mustDial(t, s.b.URL(), "ignored", s.bb)
	subscribe(t, b, shopB.Down(), &bIn)
	cid, _ := claim.NewClientID()
	other, _ := claim.NewClientID()
	c := mustDial(t, s.b.ProvisionURL(), cid, s.serverOnly)
	for _, f := range []string{claim.ResponseTopic(cid), claim.ResponseTopic(other), envelope.Root + "/#", "#"} {
		if code := subscribe(t, c, f, &anon); code != 1 {
			t.Errorf("subscribing %s: SUBACK %#x, want 1", f, code)
		}
	}
	t0 := time.Now()
	if err := publish(t, c, claim.RequestTopic(cid), "control-req", false); err != nil {
		t.Fatal(err)
	}
	dReq := plat.waitFor(t, "control-req", 10*time.Second).Sub(t0)
	t0 = time.Now()
	if err := publish(t, p, claim.ResponseTopic(cid), "control-resp", false); err != nil {
		t.Fatal(err)
	}
	dResp := anon.waitFor(t, "control-resp", 10*time.Second).Sub(t0)

	for _, at := range []string{shopB.Records(), shopB.Status(), claim.RequestTopic(other), shopB.Commands(), claim.RenewTopic("shop", "B")} {
		if err := publish(t, c, at, "attack", false); err != nil {
			t.Errorf("publish %s: %v", at, err)
		}
	}
	if err := publish(t, p, claim.ResponseTopic(other), "other-resp", false); err != nil {
		t.Fatal(err)
	}
	if err := publish(t, p, shopB.Acks(), "B-ack", false); err != nil {
		t.Fatal(err)
	}
	// Control for the last two: B gets its ack.
	bIn.waitFor(t, "B-ack", 10*time.Second)
	wait := attackWait(max(dReq, dResp))
	time.Sleep(wait)
	t.Logf("request reached the platform in %v, the answer the client in %v; waited %v", dReq, dResp, wait)
	for _, in := range []*inbox{&plat, &bIn} {
		if got := in.with("attack"); len(got) != 0 {
			t.Errorf("the unenrolled client's publish reached %s", got[0].Topic())
		}
	}
	for _, m := range anon.all() {
		if m.Topic() != claim.ResponseTopic(cid) {
			t.Errorf("the unenrolled client read %q on %s", m.Payload(), m.Topic())
		}
	}
}

// TestMosquittoProvisioningCannotTakeOver: client ids are global to a
// broker, and a new connection with an id in use closes the old one. On the
// provisioning broker a stranger's id must start with prov- and lives in
// another broker than the devices' and the platform's: asking for
// shop/B's, the platform's or the bridge's id is refused, and B and the
// platform stay connected. The control: a prov- id connects.
func TestMosquittoProvisioningCannotTakeOver(t *testing.T) {
	s := startSite(t)
	b := mustDial(t, s.b.URL(), "ignored", s.bb)
	p := mustDial(t, s.b.URL(), "ignored", s.plat)
	cid, _ := claim.NewClientID()
	mustDial(t, s.b.ProvisionURL(), cid, s.serverOnly)
	for _, id := range []string{claim.CommonName("shop", "B"), "guichet-platform-p1", "guichet-provision-bridge"} {
		if c, err := dial(s.b.ProvisionURL(), id, s.serverOnly); err == nil {
			c.Disconnect(0)
			t.Errorf("an unenrolled client connected as %s", id)
		}
	}
	// Still connected: a round trip on each.
	var in inbox
	subscribe(t, p, shopB.Records(), &in)
	if err := publish(t, b, shopB.Records(), "still-here", false); err != nil {
		t.Fatal(err)
	}
	in.waitFor(t, "still-here", 10*time.Second)
	if !b.IsConnectionOpen() || !p.IsConnectionOpen() {
		t.Error("a connection was closed")
	}
}

// TestMosquittoRefusesStrangers: on the mutual-TLS listener, no certificate
// and a certificate from another CA (with a valid device name) are refused
// at the handshake, while the site's own certificate (the control) connects.
// On the provisioning listener, a client must give an id.
func TestMosquittoRefusesStrangers(t *testing.T) {
	s := startSite(t)
	mustDial(t, s.b.URL(), "ignored", s.a)
	if c, err := dial(s.b.URL(), "anon", s.serverOnly); err == nil {
		c.Disconnect(0)
		t.Error("connected to the mutual-TLS listener without a certificate")
	}
	foreign := brokertest.NewCA(t).ClientTLS(t, claim.CommonName("shop", "B"))
	foreign.RootCAs = s.serverOnly.RootCAs
	if c, err := dial(s.b.URL(), "ignored", foreign); err == nil {
		c.Disconnect(0)
		t.Error("connected with a certificate from another CA")
	}
	if c, err := dial(s.b.ProvisionURL(), "", s.serverOnly); err == nil {
		c.Disconnect(0)
		t.Error("connected to the provisioning listener without a client id")
	}
}

// TestMosquittoRevokedCertificate: A's certificate, revoked in the CRL and
// the broker sent SIGHUP, is refused at its next connection while B's (the
// control) is still accepted. The connection A already had survives the
// reload (Mosquitto does not re-check connected clients) and ends with a
// restart, after which A is still refused.
func TestMosquittoRevokedCertificate(t *testing.T) {
	s := startSite(t)
	held := mustDial(t, s.b.URL(), "ignored", s.a)
	s.b.Revoke(t, leaf(s.a))
	if c, err := dial(s.b.URL(), "ignored", s.a); err == nil {
		c.Disconnect(0)
		t.Fatal("the revoked certificate connected after SIGHUP")
	}
	mustDial(t, s.b.URL(), "ignored", s.bb)
	if !held.IsConnectionOpen() {
		t.Error("the revoked device's open connection was cut by the reload")
	}
	var plat inbox
	p := mustDial(t, s.b.URL(), "ignored", s.plat)
	subscribe(t, p, shopA.Records(), &plat)
	if err := publish(t, held, shopA.Records(), "still-open", false); err != nil {
		t.Fatal(err)
	}
	plat.waitFor(t, "still-open", 10*time.Second)

	s.b.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for held.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if held.IsConnectionOpen() {
		t.Error("the revoked device's connection survived the restart")
	}
	if c, err := dial(s.b.URL(), "ignored", s.a); err == nil {
		c.Disconnect(0)
		t.Error("the revoked certificate connected after the restart")
	}
	mustDial(t, s.b.URL(), "ignored", s.bb)
}

// TestMosquittoExpiredCRL pins what happens when the platform lets the CRL
// pass its nextUpdate: every device certificate is refused, so the CRL must
// be reissued in time.
func TestMosquittoExpiredCRL(t *testing.T) {
	s := startSite(t)
	mustDial(t, s.b.URL(), "ignored", s.bb)
	writeCRL(t, s.b.CRLPath, s.ca.CRL(t, -time.Minute))
	s.b.Reload(t)
	if c, err := dial(s.b.URL(), "ignored", s.bb); err == nil {
		c.Disconnect(0)
		t.Fatal("connected while the CRL is past its nextUpdate")
	}
	writeCRL(t, s.b.CRLPath, s.ca.CRL(t, time.Hour))
	s.b.Reload(t)
	mustDial(t, s.b.URL(), "ignored", s.bb)
}

var _ mqtt.Client
