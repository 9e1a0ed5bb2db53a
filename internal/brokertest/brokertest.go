// Package brokertest starts real MQTT brokers for tests: Mosquitto with the
// project's own configuration template, and NATS servers with their MQTT
// listener. Brokers listen on free loopback ports and stop with the test.
package brokertest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Root returns the module's root directory, found by walking up to go.mod.
func Root(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("brokertest: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Mosquitto is a running mosquitto process.
type Mosquitto struct {
	t    testing.TB
	Port int
	dir  string
	conf string
	cmd  *exec.Cmd
	log  *logBuffer
	tls  bool
}

// logBuffer holds a process's output; the test reads it while the process
// writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// URL is the broker's address: tcp://, or ssl:// for a TLS broker.
func (m *Mosquitto) URL() string {
	if m.tls {
		return "ssl://127.0.0.1:" + strconv.Itoa(m.Port)
	}
	return "tcp://127.0.0.1:" + strconv.Itoa(m.Port)
}

// StartMosquitto starts mosquitto from deploy/mosquitto/guichet.conf.tmpl.
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/mosquitto"); err2 == nil {
			bin = "/usr/sbin/mosquitto"
		} else {
			t.Fatal("brokertest: mosquitto not installed (apt-get install mosquitto; make test does it)")
		}
	}
	m := &Mosquitto{t: t, Port: FreePort(t), dir: t.TempDir()}
	tmpl, err := os.ReadFile(filepath.Join(Root(t), "deploy/mosquitto/guichet.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("{{PORT}}", strconv.Itoa(m.Port), "{{DATA}}", m.dir).Replace(string(tmpl))
	m.conf = filepath.Join(m.dir, "mosquitto.conf")
	if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	m.start(bin)
	t.Cleanup(m.Stop)
	return m
}

func (m *Mosquitto) start(bin string) {
	m.log = &logBuffer{}
	m.cmd = exec.Command(bin, "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("brokertest: start mosquitto: %v", err)
	}
	WaitPort(m.t, m.Port, m.log)
}

// Stop stops the broker gracefully (it saves its state).
func (m *Mosquitto) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	m.cmd.Wait()
	m.cmd = nil
}

// Kill kills the broker with SIGKILL, as a crash would.
func (m *Mosquitto) Kill() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	m.cmd.Process.Kill()
	m.cmd.Wait()
	m.cmd = nil
}

// Restart starts the broker again on the same port and data.
func (m *Mosquitto) Restart() {
	m.Stop()
	bin, _ := exec.LookPath("mosquitto")
	if bin == "" {
		bin = "/usr/sbin/mosquitto"
	}
	m.start(bin)
}

// WaitPort waits until something accepts connections on the loopback port.
func WaitPort(t testing.TB, port int, log fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("brokertest: nothing listens on port %d after 10s; log:\n%s", port, log)
}

// PID is the broker process's id, for measuring it beside the programs
// under test; 0 when it is not running.
func (m *Mosquitto) PID() int {
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
}
