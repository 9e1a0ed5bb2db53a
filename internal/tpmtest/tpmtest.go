// Package tpmtest starts real software TPMs (Debian's swtpm, TPM 2.0) for
// tests. Each listens on a free loopback port, keeps its state in its own
// directory (so two TPMs have different seeds) and stops with the test.
package tpmtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TPM is a running swtpm.
type TPM struct {
	// Addr is host:port of its command socket (config identity.tpm_address).
	Addr string
	// Dir holds its state: its seeds and persistent objects.
	Dir string

	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *logBuffer
}

// Start starts a new TPM, with new seeds, that stops when the test ends.
func Start(t testing.TB) *TPM {
	t.Helper()
	p := &TPM{Dir: t.TempDir(), t: t}
	t.Cleanup(p.stop)
	// The port is free when chosen; another process may take it before
	// swtpm binds it, so a start that fails is tried on another port.
	var err error
	for range 5 {
		if err = p.start(freePort(t)); err == nil {
			return p
		}
	}
	t.Fatal(err)
	return nil
}

// Restart stops the TPM and starts it again on the same state and port,
// as a reboot does: what was loaded is gone, the seeds remain.
func (p *TPM) Restart() {
	p.t.Helper()
	p.stop()
	_, port, _ := net.SplitHostPort(p.Addr)
	if err := p.start(port); err != nil {
		p.t.Fatal(err)
	}
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func (p *TPM) start(port string) error {
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		return errors.New("tpmtest: swtpm not installed (apt-get install swtpm swtpm-tools; make test does it)")
	}
	p.Addr = net.JoinHostPort("127.0.0.1", port)
	p.log = &logBuffer{}
	p.cmd = exec.Command(bin, "socket", "--tpm2",
		"--server", "type=tcp,bindaddr=127.0.0.1,port="+port,
		"--flags", "not-need-init,startup-clear",
		"--tpmstate", "dir="+p.Dir)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("tpmtest: start swtpm: %w", err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(p.cmd, p.done)
	return p.ready()
}

// ready waits until the TPM answers a command, or swtpm has exited.
func (p *TPM) ready() error {
	var err error
	for range 200 {
		if err = p.ping(); err == nil {
			return nil
		}
		select {
		case <-p.done:
			err = fmt.Errorf("tpmtest: swtpm exited: %s", p.log)
			p.cmd = nil
			return err
		case <-time.After(25 * time.Millisecond):
		}
	}
	p.stop()
	return fmt.Errorf("tpmtest: swtpm does not answer: %v\n%s", err, p.log)
}

// ping sends TPM2_GetRandom(8) on a connection of its own.
func (p *TPM) ping() error {
	c, err := net.DialTimeout("tcp", p.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte{0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8}); err != nil {
		return err
	}
	rsp := make([]byte, 20)
	if _, err := c.Read(rsp); err != nil {
		return err
	}
	if rsp[6]|rsp[7]|rsp[8]|rsp[9] != 0 {
		return errors.New("TPM not ready")
	}
	return nil
}

func (p *TPM) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// Log returns what swtpm printed, for failure messages.
func (p *TPM) Log() string { return p.log.String() }

// logBuffer collects swtpm's output, written by exec's copying goroutine
// while a test may read it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
