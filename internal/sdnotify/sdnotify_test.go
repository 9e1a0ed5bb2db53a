package sdnotify

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// listen opens a unixgram socket as systemd does for $NOTIFY_SOCKET.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func read(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

func TestNotifyPathSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	c := listen(t, path)
	t.Setenv("NOTIFY_SOCKET", path)
	n := FromEnv()
	if os.Getenv("NOTIFY_SOCKET") != "" {
		t.Error("FromEnv left NOTIFY_SOCKET set for child processes")
	}
	for _, s := range []string{Ready, Watchdog, Stopping} {
		sent, err := n.Notify(s)
		if !sent || err != nil {
			t.Fatalf("Notify(%q) = %v, %v", s, sent, err)
		}
		if got := read(t, c); got != s {
			t.Errorf("got %q, want %q", got, s)
		}
	}
}

func TestNotifyAbstractSocket(t *testing.T) {
	name := "guichet-sdnotify-test-" + strconv.Itoa(os.Getpid())
	c := listen(t, "\x00"+name)
	n := New("@" + name)
	if sent, err := n.Notify(Ready); !sent || err != nil {
		t.Fatalf("Notify = %v, %v", sent, err)
	}
	if got := read(t, c); got != Ready {
		t.Errorf("got %q, want %q", got, Ready)
	}
}

func TestNotifyWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := FromEnv()
	if n != nil {
		t.Fatal("FromEnv without NOTIFY_SOCKET returned a notifier")
	}
	if sent, err := n.Notify(Ready); sent || err != nil {
		t.Errorf("nil notifier: Notify = %v, %v", sent, err)
	}
}

func TestNotifyMissingSocketNamesIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone")
	_, err := New(path).Notify(Ready)
	if err == nil || !contains(err.Error(), path) {
		t.Errorf("err = %v, want one naming %s", err, path)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestWatchdogInterval(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"30000000", "", 15 * time.Second},
		{"30000000", pid, 15 * time.Second},
		{"30000000", "1", 0},
		{"", "", 0},
		{"x", "", 0},
		{"-5", "", 0},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		if got := WatchdogInterval(); got != tc.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, want %v", tc.usec, tc.pid, got, tc.want)
		}
	}
}

func TestRunWatchdogPingsWhileAlive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	c := listen(t, path)
	n := New(path)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	alive := true
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.RunWatchdog(ctx, 5*time.Millisecond, func() bool { mu.Lock(); defer mu.Unlock(); return alive })
	}()
	for range 3 {
		if got := read(t, c); got != Watchdog {
			t.Fatalf("got %q, want %q", got, Watchdog)
		}
	}
	mu.Lock()
	alive = false
	mu.Unlock()
	// Drain what was in flight, then nothing more arrives.
	time.Sleep(20 * time.Millisecond)
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	buf := make([]byte, 64)
	for {
		if _, err := c.Read(buf); err != nil {
			break
		}
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := c.Read(buf); err == nil {
		t.Errorf("ping %q sent while not alive", buf[:n])
	}
	cancel()
	wg.Wait()
}
