package fault

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/brokertest"
)

// NATSNode is one nats-server process of a cluster.
type NATSNode struct {
	Name        string
	ClientPort  int
	MQTTPort    int
	ClusterPort int
	dir         string
	conf        string
	secure      bool

	mu  sync.Mutex
	cmd *exec.Cmd
	log *syncBuffer
}

// MQTTURL is the node's MQTT listener as a tcp:// URL, or ssl:// when the
// cluster runs with its security files.
func (n *NATSNode) MQTTURL() string {
	if n.secure {
		return "ssl://127.0.0.1:" + strconv.Itoa(n.MQTTPort)
	}
	return "tcp://127.0.0.1:" + strconv.Itoa(n.MQTTPort)
}

// Running reports whether the node's process is up.
func (n *NATSNode) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil
}

// Log returns what the node wrote since it last started.
func (n *NATSNode) Log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.log == nil {
		return ""
	}
	return n.log.String()
}

// NATSCluster is a cluster of nats-server nodes on loopback, each with its
// MQTT listener and JetStream, configured from deploy/nats/cluster.conf.tmpl.
type NATSCluster struct {
	t     testing.TB
	bin   string
	sec   *NATSSecurity
	Nodes []*NATSNode
}

// SetAuth rewrites every node's auth.conf and makes the running nodes
// reload their configuration (SIGHUP), as the platform does when it enrols
// or revokes a device.
func (c *NATSCluster) SetAuth(auth []byte) {
	c.t.Helper()
	for _, n := range c.Nodes {
		if err := os.WriteFile(filepath.Join(n.dir, "auth.conf"), auth, 0o600); err != nil {
			c.t.Fatal(err)
		}
		before := strings.Count(n.Log(), "Reloaded server configuration")
		n.mu.Lock()
		cmd := n.cmd
		n.mu.Unlock()
		if cmd == nil {
			continue
		}
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			c.t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(n.Log(), "Reloaded server configuration") == before {
			if time.Now().After(deadline) {
				c.t.Fatalf("fault: %s did not reload within 10s:\n%s", n.Name, n.Log())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// NATSSecurity is what a fleet's nodes add to cluster.conf.tmpl in
// production: TLS on the MQTT listener with certificates mapped to users
// (deploy/nats/mqtt-tls.conf) and the users' permissions (auth.conf, from
// platform/natsauth).
type NATSSecurity struct {
	// CAFile, CertFile and KeyFile replace the production paths of
	// deploy/nats/mqtt-tls.conf.
	CAFile, CertFile, KeyFile string
	// Auth is auth.conf.
	Auth []byte
	// Probe is a client configuration whose certificate maps to a user,
	// used to tell when the cluster accepts MQTT sessions.
	Probe *tls.Config
}

// StartNATSCluster starts n nodes and waits until JetStream has a meta
// leader, so MQTT clients are accepted. The nodes are killed when the test
// ends. Their MQTT listener has neither TLS nor authorization.
func StartNATSCluster(t testing.TB, n int) *NATSCluster {
	t.Helper()
	return StartSecureNATSCluster(t, n, nil)
}

// StartSecureNATSCluster is StartNATSCluster with the production security
// files when sec is not nil; MQTTURL is then ssl://.
func StartSecureNATSCluster(t testing.TB, n int, sec *NATSSecurity) *NATSCluster {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Fatal("fault: nats-server not installed (apt-get install nats-server)")
	}
	tmpl, err := os.ReadFile(filepath.Join(brokertest.Root(t), "deploy/nats/cluster.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var tlsConf []byte
	if sec != nil {
		src, err := os.ReadFile(filepath.Join(brokertest.Root(t), "deploy/nats/mqtt-tls.conf"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := brokertest.RenderSite(string(src), map[string]string{
			"/etc/nats/certs/server.pem": sec.CertFile, "/etc/nats/certs/server.key": sec.KeyFile, "/etc/guichet/ca.pem": sec.CAFile,
		})
		if err != nil {
			t.Fatal(err)
		}
		tlsConf = []byte(r)
	}
	c := &NATSCluster{t: t, bin: bin, sec: sec}
	base := t.TempDir()
	for i := 0; i < n; i++ {
		c.Nodes = append(c.Nodes, &NATSNode{
			Name:       fmt.Sprintf("guichet-n%d", i),
			ClientPort: brokertest.FreePort(t), MQTTPort: brokertest.FreePort(t), ClusterPort: brokertest.FreePort(t),
			dir: filepath.Join(base, fmt.Sprintf("n%d", i)), secure: sec != nil,
		})
	}
	for _, nd := range c.Nodes {
		// Each node routes to the others; a route to itself would only
		// be dropped as a duplicate.
		var routes []string
		for _, other := range c.Nodes {
			if other != nd {
				routes = append(routes, fmt.Sprintf("%q", "nats-route://127.0.0.1:"+strconv.Itoa(other.ClusterPort)))
			}
		}
		if err := os.MkdirAll(nd.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		conf := strings.NewReplacer(
			"{{NAME}}", nd.Name, "{{HOST}}", "127.0.0.1",
			"{{CLIENT_PORT}}", strconv.Itoa(nd.ClientPort), "{{MQTT_PORT}}", strconv.Itoa(nd.MQTTPort),
			"{{CLUSTER_PORT}}", strconv.Itoa(nd.ClusterPort), "{{ROUTES}}", strings.Join(routes, ", "),
			"{{DATA}}", filepath.Join(nd.dir, "js"),
		).Replace(string(tmpl))
		nd.conf = filepath.Join(nd.dir, "nats.conf")
		if err := os.WriteFile(nd.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		var auth []byte
		if sec != nil {
			auth = sec.Auth
		}
		if err := os.WriteFile(filepath.Join(nd.dir, "mqtt-tls.conf"), tlsConf, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(nd.dir, "auth.conf"), auth, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, nd := range c.Nodes {
			c.Kill(nd)
		}
	})
	for _, nd := range c.Nodes {
		c.start(nd)
	}
	for _, nd := range c.Nodes {
		brokertest.WaitPort(t, nd.MQTTPort, logOf(nd))
	}
	c.WaitReady(3 * time.Minute)
	return c
}

type nodeLog struct{ n *NATSNode }

func (l nodeLog) String() string { return l.n.Log() }

func logOf(n *NATSNode) fmt.Stringer { return nodeLog{n} }

func (c *NATSCluster) start(n *NATSNode) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log = &syncBuffer{}
	cmd := exec.Command(c.bin, "-c", n.conf)
	cmd.Stdout, cmd.Stderr = n.log, n.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("fault: start %s: %v", n.Name, err)
	}
	n.cmd = cmd
}

// Kill kills a node with SIGKILL, as a crashed machine would go.
func (c *NATSCluster) Kill(n *NATSNode) {
	n.mu.Lock()
	cmd := n.cmd
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	cmd.Wait()
}

// Restart starts a killed node again with its own JetStream directory.
func (c *NATSCluster) Restart(n *NATSNode) {
	c.Kill(n)
	c.start(n)
	brokertest.WaitPort(c.t, n.MQTTPort, logOf(n))
}

// MQTTURLs lists the MQTT listeners of every node, in node order.
func (c *NATSCluster) MQTTURLs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.MQTTURL())
	}
	return out
}

// NodeByMQTTURL returns the node listening on an MQTT URL, or nil.
func (c *NATSCluster) NodeByMQTTURL(url string) *NATSNode {
	for _, n := range c.Nodes {
		if n.MQTTURL() == url {
			return n
		}
	}
	return nil
}

// WaitReady waits until every running node accepts an MQTT session that
// survives the client (clean session off), which NATS grants only once its
// JetStream cluster has a metadata leader and the session streams exist.
// Asking is surer than reading the logs, whose wording depends on the
// order in which the nodes met.
func (c *NATSCluster) WaitReady(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ready := true
		for _, n := range c.Nodes {
			if n.Running() && !mqttSessionOK(n.MQTTURL(), c.probeTLS()) {
				ready = false
				break
			}
		}
		if ready {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	var logs strings.Builder
	for _, n := range c.Nodes {
		fmt.Fprintf(&logs, "--- %s:\n%s\n", n.Name, n.Log())
	}
	c.t.Fatalf("fault: NATS cluster not ready within %v:\n%s", d, logs.String())
}

func (c *NATSCluster) probeTLS() *tls.Config {
	if c.sec == nil {
		return nil
	}
	return c.sec.Probe
}

// mqttSessionOK reports whether url grants a persistent MQTT session.
func mqttSessionOK(url string, tc *tls.Config) bool {
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID("guichet-readiness-probe").SetTLSConfig(tc).
		SetCleanSession(false).SetProtocolVersion(4).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(8*time.Second) || tok.Error() != nil {
		return false
	}
	c.Disconnect(50)
	return true
}

// syncBuffer is a bytes.Buffer safe for the process's writes and the
// test's reads at the same time.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
