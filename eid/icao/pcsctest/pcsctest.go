// Package pcsctest starts a private pcscd with vsmartcard's vpcd driver
// for tests, so that virtual cards appear in PC/SC readers without touching
// the machine's own pcscd.
//
// pcscd 1.9 always creates its socket under /run/pcscd; only the client
// library reads PCSCLITE_CSOCK_NAME. So the daemon runs in its own mount
// namespace (unshare, as root) where a private folder is bind-mounted on
// /run/pcscd, and the test process points PCSCLITE_CSOCK_NAME at the socket
// in that folder. libpcsclite reads that variable once per process, so a
// test binary uses one daemon: Shared starts it on first use.
package pcsctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ebfe/scard"
)

// VPCDDriver is where Debian's vsmartcard-vpcd installs the driver.
const VPCDDriver = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

// Daemon is a running private pcscd.
type Daemon struct {
	// Socket is the path of pcscd's socket, for PCSCLITE_CSOCK_NAME.
	Socket string
	// Port is the TCP port of vpcd's first slot on 127.0.0.1; slot i
	// listens on Port+i.
	Port int

	dir  string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

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

// Check reports what is missing to run a private pcscd, naming the Debian
// package to install.
func Check() error {
	if _, err := exec.LookPath("pcscd"); err != nil {
		return errors.New("pcscd not found: apt-get install pcscd")
	}
	if _, err := os.Stat(VPCDDriver); err != nil {
		return errors.New("vpcd driver not found: apt-get install vsmartcard-vpcd")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return errors.New("unshare not found: apt-get install util-linux")
	}
	if os.Geteuid() != 0 {
		return errors.New("a private pcscd needs root, to mount its socket folder in a private namespace")
	}
	return nil
}

// freePorts finds two consecutive free TCP ports on 127.0.0.1, one per vpcd
// slot.
func freePorts() (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("pcsctest: no two consecutive free ports")
}

// Start runs pcscd in the foreground with only the vpcd reader configured,
// its files under dir. It returns once the daemon's socket exists.
func Start(ctx context.Context, dir string) (*Daemon, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	port, err := freePorts()
	if err != nil {
		return nil, err
	}
	run, conf := filepath.Join(dir, "run"), filepath.Join(dir, "reader.conf.d")
	for _, p := range []string{run, conf} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, err
		}
	}
	cfg := fmt.Sprintf("FRIENDLYNAME \"Virtual PCD\"\nDEVICENAME /dev/null:0x%X\nLIBPATH %s\nCHANNELID 0x%X\n", port, VPCDDriver, port)
	if err := os.WriteFile(filepath.Join(conf, "vpcd"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	d := &Daemon{Socket: filepath.Join(run, "pcscd.comm"), Port: port, dir: dir, out: &syncBuffer{}, done: make(chan struct{})}
	started := make(chan error, 1)
	// The goroutine owns the child: it keeps its OS thread for the
	// child's life, because Pdeathsig fires when the creating thread
	// exits, and it reaps the child.
	go func() {
		runtime.LockOSThread()
		d.cmd = exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
			`mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd && exec pcscd --foreground --config "$2"`, "sh", run, conf)
		d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
		d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := d.cmd.Start(); err != nil {
			started <- err
			close(d.done)
			return
		}
		started <- nil
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("pcsctest: start pcscd: %w", err)
	}
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		if _, err := os.Stat(d.Socket); err == nil {
			return d, nil
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("pcsctest: pcscd exited: %v: %s", d.err, d.out.String())
		case <-deadline.C:
			d.Stop()
			return nil, fmt.Errorf("pcsctest: pcscd socket did not appear: %s", d.out.String())
		case <-ctx.Done():
			d.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// VPCD returns the address a virtual card dials to sit in slot.
func (d *Daemon) VPCD(slot int) string { return fmt.Sprintf("127.0.0.1:%d", d.Port+slot) }

// Reader returns the PC/SC name of vpcd's slot.
func (d *Daemon) Reader(slot int) string { return fmt.Sprintf("Virtual PCD 00 %02d", slot) }

// Log returns what pcscd printed.
func (d *Daemon) Log() string { return d.out.String() }

// Stop ends pcscd (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (d *Daemon) Stop() error {
	if d.cmd == nil || d.cmd.Process == nil {
		return nil
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
	return nil
}

// WaitReaders waits until PC/SC lists the vpcd readers, through the client
// library (so PCSCLITE_CSOCK_NAME must already point at d.Socket).
func (d *Daemon) WaitReaders(ctx context.Context) error {
	for {
		if c, err := scard.EstablishContext(); err == nil {
			names, _ := c.ListReaders()
			c.Release()
			if slices.Contains(names, d.Reader(0)) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pcsctest: vpcd readers did not appear: %w: %s", ctx.Err(), d.Log())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var (
	sharedOnce sync.Once
	shared     *Daemon
	sharedErr  error
)

// Shared returns the test process's daemon, starting it on first call and
// pointing PCSCLITE_CSOCK_NAME at it. It stays up until the process exits
// (it dies with it); call StopShared from TestMain to end it cleanly.
func Shared(tb testing.TB) *Daemon {
	tb.Helper()
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pcsctest-")
		if err != nil {
			sharedErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		d, err := Start(ctx, dir)
		if err != nil {
			sharedErr = err
			return
		}
		os.Setenv("PCSCLITE_CSOCK_NAME", d.Socket)
		if err := d.WaitReaders(ctx); err != nil {
			d.Stop()
			sharedErr = err
			return
		}
		shared = d
	})
	if sharedErr != nil {
		tb.Fatalf("private pcscd: %v", sharedErr)
	}
	return shared
}

// StopShared stops the shared daemon, if started, and removes its files.
func StopShared() {
	if shared != nil {
		shared.Stop()
		os.RemoveAll(shared.dir)
	}
}

// WaitCard waits until PC/SC sees a card in slot (present) or none. Tests
// call it between removing one virtual card and inserting the next, so that
// pcscd notices the change instead of carrying the old card's state over.
func (d *Daemon) WaitCard(ctx context.Context, slot int, present bool) error {
	c, err := scard.EstablishContext()
	if err != nil {
		return err
	}
	defer c.Release()
	rs := []scard.ReaderState{{Reader: d.Reader(slot), CurrentState: scard.StateUnaware}}
	for {
		err := c.GetStatusChange(rs, 100*time.Millisecond)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			return err
		}
		st := rs[0].EventState
		if st&scard.StatePresent != 0 == present && st&scard.StateEmpty != 0 == !present {
			return nil
		}
		rs[0].CurrentState = st &^ scard.StateChanged
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("pcsctest: slot %d never became present=%v: %w", slot, present, err)
		}
	}
}
