package enrol

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/brokertest"
)

// tlsBroker is a Mosquitto with a mutual-TLS listener built from the
// platform's CA alone: its server certificate and the CRL the platform
// writes, as `guichet-platform ca broker-cert` and `device revoke` make
// them.
type tlsBroker struct {
	t    *testing.T
	port int
	conf string
	cmd  *exec.Cmd
	log  bytes.Buffer
}

func startTLSBroker(t *testing.T, e *env) *tlsBroker {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM, err := e.ca.IssueServer([]string{"127.0.0.1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"broker.pem": certPEM, "broker.key": keyPEM, "ca.pem": e.ca.PEM()}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.svc.WriteCRL(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := &tlsBroker{t: t, port: brokertest.FreePort(t), conf: filepath.Join(dir, "mosquitto.conf")}
	conf := "user root\nper_listener_settings true\nlistener " + strconv.Itoa(b.port) + " 127.0.0.1\n" +
		"cafile " + filepath.Join(dir, "ca.pem") + "\ncertfile " + filepath.Join(dir, "broker.pem") + "\nkeyfile " + filepath.Join(dir, "broker.key") + "\n" +
		"crlfile " + e.svc.cfg.CRLFile + "\n" +
		"require_certificate true\nuse_identity_as_username true\nallow_anonymous false\npersistence false\nlog_type error\nlog_type warning\n"
	if err := os.WriteFile(b.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *tlsBroker) start() {
	b.cmd = exec.Command("/usr/sbin/mosquitto", "-c", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = &b.log, &b.log
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	brokertest.WaitPort(b.t, b.port, &b.log)
}

func (b *tlsBroker) stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		b.cmd.Process.Signal(syscall.SIGTERM)
		b.cmd.Wait()
		b.cmd = nil
	}
}

// connect tries a session with conf and says whether the broker took it.
func (b *tlsBroker) connect(conf *tls.Config, id string) error {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("ssl://127.0.0.1:" + strconv.Itoa(b.port)).
		SetClientID(id).SetTLSConfig(conf).SetConnectTimeout(5 * time.Second))
	tok := c.Connect()
	tok.Wait()
	if tok.Error() == nil {
		c.Disconnect(50)
	}
	return tok.Error()
}

// deviceTLS is what an enrolled box connects with: its key, the
// certificate the platform issued, and the CA bundle it was handed.
func deviceTLS(t *testing.T, b *box, certDER, bundle []byte) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		t.Fatal("CA bundle has no certificate")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{certDER}, PrivateKey: b.key}}}
}

// An enrolled box connects to a Mosquitto made from the platform's CA as
// itself; a certificate from another CA is refused; once revoked (the
// broker having read the new CRL), so is the box.
func TestCertificatesOnMosquitto(t *testing.T) {
	e := newEnv(t)
	e.now = time.Now()
	ctx := context.Background()
	b := newBox(t)
	resp, err := e.svc.Enrol(ctx, b.request(t, e.code(t, "shop-1", "s", "till"), "till-1"))
	if err != nil {
		t.Fatal(err)
	}
	other := newBox(t)
	resp2, err := e.svc.Enrol(ctx, other.request(t, e.code(t, "shop-1", "s", "till"), "till-2"))
	if err != nil {
		t.Fatal(err)
	}
	broker := startTLSBroker(t, e)
	if err := broker.connect(deviceTLS(t, b, resp.Cert, resp.CA), "shop-1/till-1"); err != nil {
		t.Fatalf("the enrolled box: %v\n%s", err, &broker.log)
	}
	// A certificate from another CA.
	foreign := brokertest.NewCA(t).ClientTLS(t, "till-1")
	foreign.RootCAs = deviceTLS(t, b, resp.Cert, resp.CA).RootCAs
	if err := broker.connect(foreign, "shop-1/till-1"); err == nil {
		t.Fatal("a certificate from another CA was let in")
	}
	// The box's key with a certificate it did not get (the other box's).
	if err := broker.connect(deviceTLS(t, b, resp2.Cert, resp.CA), "x"); err == nil {
		t.Fatal("a certificate used with another key was let in")
	}

	if err := e.svc.Revoke(ctx, "shop-1", "till-1"); err != nil {
		t.Fatal(err)
	}
	// Mosquitto reads its CRL when it starts.
	broker.stop()
	broker.start()
	if err := broker.connect(deviceTLS(t, b, resp.Cert, resp.CA), "shop-1/till-1"); err == nil {
		t.Fatal("the revoked box was let in")
	}
	if err := broker.connect(deviceTLS(t, other, resp2.Cert, resp2.CA), "shop-1/till-2"); err != nil {
		t.Fatalf("the other box, not revoked: %v\n%s", err, &broker.log)
	}
	crl, _ := os.ReadFile(e.svc.cfg.CRLFile)
	if blk, _ := pem.Decode(crl); blk == nil || blk.Type != "X509 CRL" {
		t.Fatalf("CRL file %q", crl)
	}
}
