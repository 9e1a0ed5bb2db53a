package brokertest

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Site is a site's brokers as shipped: a mosquitto running
// deploy/mosquitto/site.conf, its mutual-TLS listener on Port (URL), and
// the provisioning mosquitto running deploy/mosquitto/provision.conf,
// bridged to it, on ProvisionPort (ProvisionURL).
type Site struct {
	*Mosquitto
	// Provision is the provisioning broker.
	Provision     *Mosquitto
	ProvisionPort int
	// CRLPath is the site broker's crlfile; Revoke rewrites it.
	CRLPath string
	ca      *CA
}

// ProvisionURL is the provisioning broker's address (ssl://).
func (s *Site) ProvisionURL() string { return s.Provision.URL() }

// StartMosquittoSite starts the two brokers from deploy/mosquitto/site.conf
// and provision.conf with the shipped ACL files unchanged. Only what
// differs on a test machine is replaced: the listeners' ports (on
// loopback), the certificate, CRL and persistence paths, and the process's
// user (mosquitto started as root would switch to its own user and could
// not read the test's files). The certificates and an empty CRL come from
// ca. It returns once the bridge has connected.
func StartMosquittoSite(t testing.TB, ca *CA) *Site {
	t.Helper()
	root := Root(t)
	s := &Site{
		Mosquitto: &Mosquitto{t: t, Port: FreePort(t), dir: t.TempDir(), tls: true},
		ca:        ca,
	}
	cert, key := ca.Issue(t, "broker", true)
	s.CRLPath = filepath.Join(s.dir, "crl.pem")
	if err := os.WriteFile(s.CRLPath, ca.CRL(t, 24*time.Hour), 0o600); err != nil {
		t.Fatal(err)
	}
	s.configure(t, "site.conf", map[string]string{
		"/etc/guichet/ca.pem":                      ca.CAFile(t),
		"/etc/guichet/crl.pem":                     s.CRLPath,
		"/etc/mosquitto/certs/broker.pem":          cert,
		"/etc/mosquitto/certs/broker.key":          key,
		"/etc/mosquitto/guichet.acl":               filepath.Join(root, "deploy/mosquitto/guichet.acl"),
		"persistence_location /var/lib/mosquitto/": "persistence_location " + s.dir + "/",
		"listener 8883":                            "listener " + strconv.Itoa(s.Port) + " 127.0.0.1",
	})
	s.start(mosquittoBin(t))
	t.Cleanup(s.Stop)
	s.Provision = StartProvisioning(t, ca, "127.0.0.1:"+strconv.Itoa(s.Port))
	s.ProvisionPort = s.Provision.Port
	s.waitBridge(t, 0)
	return s
}

// StartProvisioning starts the provisioning broker alone from
// deploy/mosquitto/provision.conf, its bridge pointed at address (host:port
// of a site broker or of a NATS node's MQTT listener, which must present a
// certificate from ca valid for that host). Its certificates come from ca;
// the bridge's CN is guichet-provision-bridge.
func StartProvisioning(t testing.TB, ca *CA, address string) *Mosquitto {
	t.Helper()
	m := &Mosquitto{t: t, Port: FreePort(t), dir: t.TempDir(), tls: true}
	cert, key := ca.Issue(t, "broker", true)
	bridgeCert, bridgeKey := ca.Issue(t, "guichet-provision-bridge", false)
	m.configure(t, "provision.conf", map[string]string{
		"/etc/guichet/ca.pem":                       ca.CAFile(t),
		"/etc/mosquitto/certs/broker.pem":           cert,
		"/etc/mosquitto/certs/broker.key":           key,
		"/etc/mosquitto/certs/provision-bridge.pem": bridgeCert,
		"/etc/mosquitto/certs/provision-bridge.key": bridgeKey,
		"/etc/mosquitto/provision.acl":              filepath.Join(Root(t), "deploy/mosquitto/provision.acl"),
		"listener 8884":                             "listener " + strconv.Itoa(m.Port) + " 127.0.0.1",
		"address 127.0.0.1:8883":                    "address " + address,
	})
	m.start(mosquittoBin(t))
	t.Cleanup(m.Stop)
	return m
}

// configure renders deploy/mosquitto/<file> with subst (RenderSite), runs
// it as the caller's user and logs enough to see connections and reloads.
func (m *Mosquitto) configure(t testing.TB, file string, subst map[string]string) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(Root(t), "deploy/mosquitto", file))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := RenderSite(string(src), subst)
	if err != nil {
		t.Fatal(err)
	}
	m.conf = filepath.Join(m.dir, "mosquitto.conf")
	if err := os.WriteFile(m.conf, []byte("user root\n"+conf+"log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mosquittoBin(t testing.TB) string {
	bin := "/usr/sbin/mosquitto"
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("brokertest: mosquitto not installed (apt-get install mosquitto; make test does it)")
	}
	return bin
}

// waitBridge waits until the provisioning broker's bridge has connected
// more than n times to the site broker.
func (s *Site) waitBridge(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(s.log.String(), " as guichet-provision-bridge ") <= n {
		if time.Now().After(deadline) {
			t.Fatalf("brokertest: the provisioning bridge did not connect within 20s; site log:\n%s\nprovisioning log:\n%s", s.log, s.Provision.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// RenderSite replaces each key of subst in the production configuration
// by its value, and fails if a key is missing: a test must not silently run
// a configuration other than the one shipped.
func RenderSite(conf string, subst map[string]string) (string, error) {
	var pairs []string
	for k, v := range subst {
		if !strings.Contains(conf, k) {
			return "", &missingError{k}
		}
		pairs = append(pairs, k, v)
	}
	return strings.NewReplacer(pairs...).Replace(conf), nil
}

type missingError struct{ key string }

func (e *missingError) Error() string {
	return "brokertest: site.conf no longer holds " + strconv.Quote(e.key)
}

// Revoke writes a CRL revoking certs (and only them) and sends the broker
// SIGHUP, which makes Mosquitto 2.0 reload it: the certificates are refused
// from their next connection on.
func (s *Site) Revoke(t testing.TB, certs ...*x509.Certificate) {
	t.Helper()
	if err := os.WriteFile(s.CRLPath, s.ca.CRL(t, 24*time.Hour, certs...), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Reload(t)
}

// Reload sends the broker SIGHUP and waits until it has logged the reload.
func (s *Site) Reload(t testing.TB) {
	t.Helper()
	n := strings.Count(s.log.String(), "Reloading config")
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(s.log.String(), "Reloading config") == n {
		if time.Now().After(deadline) {
			t.Fatalf("brokertest: no reload logged within 10s; log:\n%s", s.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Restart stops the site broker gracefully and starts it again on the same
// port, files and data; it returns once the bridge has reconnected.
func (s *Site) Restart() {
	s.Mosquitto.Restart()
	// The new process's log starts empty.
	s.waitBridge(s.t, 0)
}

// Log returns what the broker wrote since it last started.
func (m *Mosquitto) Log() string { return m.log.String() }
