package fault

import (
	"bytes"
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

	mu  sync.Mutex
	cmd *exec.Cmd
	log *syncBuffer
}

// MQTTURL is the node's MQTT listener as a tcp:// URL.
func (n *NATSNode) MQTTURL() string { return "tcp://127.0.0.1:" + strconv.Itoa(n.MQTTPort) }

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
	Nodes []*NATSNode
}

// StartNATSCluster starts n nodes and waits until JetStream has a meta
// leader, so MQTT clients are accepted. The nodes are killed when the test
// ends.
func StartNATSCluster(t testing.TB, n int) *NATSCluster {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Fatal("fault: nats-server not installed (apt-get install nats-server)")
	}
	tmpl, err := os.ReadFile(filepath.Join(brokertest.Root(t), "deploy/nats/cluster.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	c := &NATSCluster{t: t, bin: bin}
	base := t.TempDir()
	for i := 0; i < n; i++ {
		c.Nodes = append(c.Nodes, &NATSNode{
			Name:       fmt.Sprintf("guichet-n%d", i),
			ClientPort: brokertest.FreePort(t), MQTTPort: brokertest.FreePort(t), ClusterPort: brokertest.FreePort(t),
			dir: filepath.Join(base, fmt.Sprintf("n%d", i)),
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
			if n.Running() && !mqttSessionOK(n.MQTTURL()) {
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

// mqttSessionOK reports whether url grants a persistent MQTT session.
func mqttSessionOK(url string) bool {
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID("guichet-readiness-probe").
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
