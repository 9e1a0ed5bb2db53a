package provision

import (
	"bytes"
	"context"
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

// memKey is an identity key held in memory, as a file key would be.
type memKey struct {
	*ecdsa.PrivateKey
	kind string
}

func (k memKey) Kind() string { return k.kind }

func newKey(t testing.TB) memKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return memKey{k, "file"}
}

// testCA is the platform's CA in these tests: it issues the broker's
// certificate and the devices'.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	dir  string
}

func newCA(t testing.TB, name string) *testCA {
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
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), dir: t.TempDir()}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue makes a client certificate for pub named cn, valid from
// notBefore for life.
func (ca *testCA) issue(t testing.TB, pub crypto.PublicKey, cn string, notBefore time.Time, life time.Duration) []byte {
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notBefore.Add(life),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// files writes a certificate and key for cn (a server for 127.0.0.1 when
// server is set) and returns their paths.
func (ca *testCA) files(t testing.TB, cn string, server bool) (certPath, keyPath string) {
	key := newKey(t)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key.PrivateKey)
	certPath, keyPath = filepath.Join(ca.dir, cn+".pem"), filepath.Join(ca.dir, cn+".key")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certPath, keyPath
}

func (ca *testCA) clientTLS(t testing.TB, cn string) *tls.Config {
	c, k := ca.files(t, cn, false)
	pair, err := tls.LoadX509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{RootCAs: ca.pool(), Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

// broker is a mosquitto laid out as deploy/mosquitto/site.conf: a
// mutual-TLS listener whose client's user name is its certificate's CN,
// confined by a tenant/device ACL, and a server-authenticated
// provisioning listener where an anonymous client reaches only its own
// request and response topics.
type broker struct {
	t              testing.TB
	port, provPort int
	conf           string
	cmd            *exec.Cmd
	log            *bytes.Buffer
}

func (b *broker) url() string     { return "ssl://127.0.0.1:" + strconv.Itoa(b.port) }
func (b *broker) provURL() string { return "ssl://127.0.0.1:" + strconv.Itoa(b.provPort) }

func startBroker(t testing.TB, ca *testCA) *broker {
	t.Helper()
	dir := t.TempDir()
	b := &broker{t: t, port: brokertest.FreePort(t), provPort: brokertest.FreePort(t)}
	cert, key := ca.files(t, "broker", true)
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, ca.pem, 0o600)
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
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *broker) start() {
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

func (b *broker) stop() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	b.cmd.Wait()
	b.cmd = nil
}

// platform answers enrolment and renewal requests as the real one would,
// with what its fields say; tests change them to misbehave.
type platform struct {
	t      testing.TB
	ca     *testCA
	c      mqtt.Client
	mu     sync.Mutex
	code   claim.Code
	tenant string
	site   string
	// life is the validity of the certificates it issues.
	life    time.Duration
	brokers []string
	key     ed25519.PublicKey
	// answer, when set, replaces the response to an enrolment request.
	answer func(req *claim.Request, resp *claim.Response)
	// renewals counts renewal requests; silent ones are not answered.
	renewals int
	silent   int
	// status gets each status message the devices publish.
	status chan string
}

func startPlatform(t testing.TB, b *broker, ca *testCA) *platform {
	pk, _, _ := ed25519.GenerateKey(nil)
	code, _ := claim.NewCode()
	p := &platform{t: t, ca: ca, code: code, tenant: "shop1", site: "rue-haute", life: time.Hour,
		brokers: []string{b.url()}, key: pk, status: make(chan string, 100)}
	p.c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.url()).SetClientID("guichet-platform-p1").
		SetTLSConfig(ca.clientTLS(t, "guichet-platform-p1")).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond).SetMaxReconnectInterval(200 * time.Millisecond).
		SetOnConnectHandler(func(c mqtt.Client) {
			c.Subscribe(claim.AllRequests, 1, p.onRequest)
			c.Subscribe(claim.AllRenewals, 1, p.onRenewal)
			c.Subscribe("guichet/v1/+/+/up/status", 1, func(_ mqtt.Client, m mqtt.Message) {
				p.status <- m.Topic() + " " + string(m.Payload())
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

func (p *platform) onRequest(c mqtt.Client, m mqtt.Message) {
	cid, err := claim.ParseRequestTopic(m.Topic())
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	resp := &claim.Response{V: claim.Version}
	req, err := claim.DecodeRequest(m.Payload())
	switch {
	case err != nil:
		resp.Error = err.Error()
	case req.Code != p.code:
		resp.Error = "unknown or used code"
	default:
		csr, _ := claim.ParseCSR(req.CSR)
		resp.Tenant, resp.Site, resp.Role, resp.Device = p.tenant, p.site, claim.RoleTill, req.Device
		resp.Cert = p.ca.issue(p.t, csr.PublicKey, claim.CommonName(p.tenant, req.Device), time.Now().Add(-time.Second), p.life)
		resp.CA, resp.PlatformKey, resp.Brokers = p.ca.pem, p.key, p.brokers
		if p.answer != nil {
			p.answer(req, resp)
		}
	}
	b, _ := claim.Encode(resp)
	c.Publish(claim.ResponseTopic(cid), 1, false, b)
}

func (p *platform) onRenewal(c mqtt.Client, m mqtt.Message) {
	tenant, device, rest, err := envelope.ParseUp(m.Topic())
	if err != nil || rest != "up/renew" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.renewals++
	if p.renewals <= p.silent {
		return
	}
	r, err := claim.DecodeRenewal(m.Payload())
	is := &claim.Issued{V: claim.Version}
	if err != nil {
		is.Error = err.Error()
	} else {
		csr, _ := claim.ParseCSR(r.CSR)
		is.Cert = p.ca.issue(p.t, csr.PublicKey, claim.CommonName(tenant, device), time.Now().Add(-time.Second), p.life)
	}
	b, _ := claim.Encode(is)
	c.Publish(claim.CertTopic(tenant, device), 1, false, b)
}

func (p *platform) set(f func(p *platform)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func recordKey(t testing.TB) ed25519.PublicKey {
	pk, _, _ := ed25519.GenerateKey(nil)
	return pk
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
