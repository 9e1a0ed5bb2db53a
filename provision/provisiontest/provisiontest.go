// Package provisiontest runs, for tests, the other end of enrolment: a
// Mosquitto laid out as deploy/mosquitto/site.conf (a server-authenticated
// provisioning listener and a mutual-TLS listener) and a small platform
// that answers enrolment and renewal requests with provision/claim
// messages from a test CA. It is no platform: it knows one code and
// issues what it is told, so tests can make it misbehave.
package provisiontest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/sync/envelope"
)

// CA is the platform's CA in a test: it issues the broker's certificate
// and the devices'.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// PEM is the CA certificate, the bundle a device receives.
	PEM []byte
	dir string
}

// NewCA makes a CA named name, valid from an hour ago for a day.
func NewCA(t testing.TB, name string) *CA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), dir: t.TempDir()}
}

// Pool returns a pool holding the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// Issue makes a client certificate for pub named cn, valid from
// notBefore for life.
func (ca *CA) Issue(t testing.TB, pub crypto.PublicKey, cn string, notBefore time.Time, life time.Duration) []byte {
	der, err := ca.issue(pub, cn, notBefore, life)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (ca *CA) issue(pub crypto.PublicKey, cn string, notBefore time.Time, life time.Duration) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notBefore.Add(life),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	return x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
}

// Files writes a certificate and key for cn (a server for 127.0.0.1 when
// server is set) and returns their paths.
func (ca *CA) Files(t testing.TB, cn string, server bool) (certPath, keyPath string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPath, keyPath = filepath.Join(ca.dir, cn+".pem"), filepath.Join(ca.dir, cn+".key")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certPath, keyPath
}

// ClientTLS returns a client configuration with a new certificate for cn.
func (ca *CA) ClientTLS(t testing.TB, cn string) *tls.Config {
	c, k := ca.Files(t, cn, false)
	pair, err := tls.LoadX509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

// Broker is a mosquitto laid out as deploy/mosquitto/site.conf: a
// mutual-TLS listener whose client's user name is its certificate's CN,
// confined by a tenant/device ACL, and a server-authenticated
// provisioning listener where an anonymous client reaches only its own
// request and response topics.
type Broker struct {
	t              testing.TB
	port, provPort int
	conf           string
	cmd            *exec.Cmd
	log            *bytes.Buffer
}

// URL is the mutual-TLS listener's address.
func (b *Broker) URL() string { return "ssl://127.0.0.1:" + strconv.Itoa(b.port) }

// ProvisionURL is the provisioning listener's address.
func (b *Broker) ProvisionURL() string { return "ssl://127.0.0.1:" + strconv.Itoa(b.provPort) }

// StartBroker starts the broker with certificates from ca; it stops with
// the test.
func StartBroker(t testing.TB, ca *CA) *Broker {
	t.Helper()
	dir := t.TempDir()
	b := &Broker{t: t, port: brokertest.FreePort(t), provPort: brokertest.FreePort(t)}
	cert, key := ca.Files(t, "broker", true)
	caFile := filepath.Join(dir, "ca.PEM")
	os.WriteFile(caFile, ca.PEM, 0o600)
	acl := filepath.Join(dir, "guichet.acl")
	os.WriteFile(acl, []byte("pattern write guichet/v1/%u/up/#\npattern read guichet/v1/%u/down/#\n"+
		"user guichet-platform-p1\ntopic read guichet/v1/+/+/up/#\ntopic write guichet/v1/+/+/down/#\n"+
		"topic read guichet/v1/provision/+/req\ntopic write guichet/v1/provision/+/resp\n"), 0o600)
	provACL := filepath.Join(dir, "provision.acl")
	os.WriteFile(provACL, []byte("pattern write guichet/v1/provision/%c/req\npattern read guichet/v1/provision/%c/resp\n"), 0o600)
	conf := "user root\nper_listener_settings true\npersistence false\nlog_type error\nlog_type warning\n" +
		"listener " + strconv.Itoa(b.port) + " 127.0.0.1\ncafile " + caFile + "\ncertfile " + cert + "\nkeyfile " + key + "\n" +
		"require_certificate true\nuse_identity_as_username true\nuse_username_as_clientid true\nallow_anonymous false\nacl_file " + acl + "\n" +
		"listener " + strconv.Itoa(b.provPort) + " 127.0.0.1\ncertfile " + cert + "\nkeyfile " + key + "\n" +
		"allow_anonymous true\nallow_zero_length_clientid false\nacl_file " + provACL + "\n"
	b.conf = filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

// Start starts the broker again after Stop, on the same ports.
func (b *Broker) Start() {
	b.log = &bytes.Buffer{}
	b.cmd = exec.Command("/usr/sbin/mosquitto", "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	brokertest.WaitPort(b.t, b.port, b.log)
	brokertest.WaitPort(b.t, b.provPort, b.log)
}

// Stop stops the broker; it forgets its sessions and retained messages.
func (b *Broker) Stop() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	b.cmd.Wait()
	b.cmd = nil
}

// Platform answers enrolment and renewal requests as the real one would,
// with what its fields say; tests change them, under Set, to misbehave.
type Platform struct {
	ca *CA
	c  mqtt.Client
	mu sync.Mutex
	// Code is the one code it takes; Tenant and Site the binding it gives.
	Code   claim.Code
	Tenant string
	Site   string
	// Life is the validity of the certificates it issues.
	Life time.Duration
	// Brokers and Key are the answer's brokers and platform key.
	Brokers []string
	Key     ed25519.PublicKey
	// Answer, when set, replaces the response to an enrolment request.
	Answer func(req *claim.Request, resp *claim.Response)
	// Requests counts enrolment requests; the first Deaf are not
	// answered, as if no platform had been subscribed when they came.
	Requests int
	Deaf     int
	// Renewals counts renewal requests; the first Silent are not
	// answered.
	Renewals int
	Silent   int
	// Status gets "TOPIC PAYLOAD" of each status message the devices publish.
	Status chan string
}

// StartPlatform connects the platform to b's mutual-TLS listener as
// guichet-platform-p1.
func StartPlatform(t testing.TB, b *Broker, ca *CA) *Platform {
	pk, _, _ := ed25519.GenerateKey(nil)
	code, _ := claim.NewCode()
	p := &Platform{ca: ca, Code: code, Tenant: "shop1", Site: "rue-haute", Life: time.Hour,
		Brokers: []string{b.URL()}, Key: pk, Status: make(chan string, 100)}
	p.c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("guichet-platform-p1").
		SetTLSConfig(ca.ClientTLS(t, "guichet-platform-p1")).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c mqtt.Client) {
			c.Subscribe(claim.AllRequests, 1, p.onRequest)
			c.Subscribe(claim.AllRenewals, 1, p.onRenewal)
			c.Subscribe("guichet/v1/+/+/up/status", 1, func(_ mqtt.Client, m mqtt.Message) {
				p.Status <- m.Topic() + " " + string(m.Payload())
			})
		}))
	if tok := p.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("platform connect: %v\n%s", tok.Error(), b.log)
	}
	t.Cleanup(func() { p.c.Disconnect(100) })
	// The subscriptions are made in the connect handler, after the token.
	time.Sleep(200 * time.Millisecond)
	return p
}

func (p *Platform) onRequest(c mqtt.Client, m mqtt.Message) {
	cid, err := claim.ParseRequestTopic(m.Topic())
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Requests++; p.Requests <= p.Deaf {
		return
	}
	resp := &claim.Response{V: claim.Version}
	req, err := claim.DecodeRequest(m.Payload())
	switch {
	case err != nil:
		resp.Error = err.Error()
	case req.Code != p.Code:
		resp.Error = "unknown or used code"
	default:
		csr, _ := claim.ParseCSR(req.CSR)
		resp.Tenant, resp.Site, resp.Role, resp.Device = p.Tenant, p.Site, claim.RoleTill, req.Device
		resp.CA, resp.PlatformKey, resp.Brokers = p.ca.PEM, p.Key, p.Brokers
		if resp.Cert, err = p.ca.issue(csr.PublicKey, claim.CommonName(p.Tenant, req.Device), time.Now().Add(-time.Second), p.Life); err != nil {
			resp = &claim.Response{V: claim.Version, Error: err.Error()}
		} else if p.Answer != nil {
			p.Answer(req, resp)
		}
	}
	b, _ := claim.Encode(resp)
	c.Publish(claim.ResponseTopic(cid), 1, false, b)
}

func (p *Platform) onRenewal(c mqtt.Client, m mqtt.Message) {
	tenant, device, rest, err := envelope.ParseUp(m.Topic())
	if err != nil || rest != "up/renew" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Renewals++
	if p.Renewals <= p.Silent {
		return
	}
	r, err := claim.DecodeRenewal(m.Payload())
	is := &claim.Issued{V: claim.Version}
	if err != nil {
		is.Error = err.Error()
	} else {
		csr, _ := claim.ParseCSR(r.CSR)
		if is.Cert, err = p.ca.issue(csr.PublicKey, claim.CommonName(tenant, device), time.Now().Add(-time.Second), p.Life); err != nil {
			is = &claim.Issued{V: claim.Version, Error: err.Error()}
		}
	}
	b, _ := claim.Encode(is)
	c.Publish(claim.CertTopic(tenant, device), 1, false, b)
}

// Set changes the platform's fields between requests.
func (p *Platform) Set(f func(p *Platform)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

// Log is what the broker printed.
func (b *Broker) Log() string { return b.log.String() }
