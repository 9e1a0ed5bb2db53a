package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/sdnotify"
)

// TestDaemonNotifiesSystemd runs the daemon as systemd runs a Type=notify
// unit with WatchdogSec: READY=1 comes once the UI and the socket accept
// connections, WATCHDOG=1 pings follow at half of WATCHDOG_USEC, and
// STOPPING=1 comes when it is told to stop.
func TestDaemonNotifiesSystemd(t *testing.T) {
	dir := t.TempDir()
	notifyPath := filepath.Join(dir, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uiAddr := free.Addr().String()
	free.Close()
	sock := filepath.Join(dir, "api.sock")
	conf := filepath.Join(dir, "guichetd.yaml")
	os.WriteFile(conf, []byte("device: {id: till-1, tenant: shop1}\nstate_dir: "+filepath.Join(dir, "state")+
		"\nbroker: {urls: ['tcp://127.0.0.1:1']}\nplatform_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nhardware: sim\n"+
		"ui: {listen: '"+uiAddr+"', socket: '"+sock+"'}\n"), 0o600)
	cfg, err := config.LoadDaemon(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", notifyPath)
	t.Setenv("WATCHDOG_USEC", "200000") // pings every 100ms, each after a GET of the UI
	t.Setenv("WATCHDOG_PID", "")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	next := func() string {
		t.Helper()
		nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 256)
		n, err := nc.Read(buf)
		if err != nil {
			select {
			case err := <-done:
				t.Fatalf("daemon stopped: %v", err)
			default:
			}
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
	if got := next(); got != sdnotify.Ready {
		t.Fatalf("first notification %q, want %q", got, sdnotify.Ready)
	}
	// Ready means serving: both listeners accept now.
	for _, a := range []struct{ network, addr string }{{"tcp", uiAddr}, {"unix", sock}} {
		c, err := net.Dial(a.network, a.addr)
		if err != nil {
			t.Fatalf("READY=1 sent but %s %s does not accept: %v", a.network, a.addr, err)
		}
		c.Close()
	}
	for i := range 3 {
		if got := next(); got != sdnotify.Watchdog {
			t.Fatalf("notification %d after ready: %q, want %q", i, got, sdnotify.Watchdog)
		}
	}
	cancel()
	for {
		got := next()
		if got == sdnotify.Stopping {
			break
		}
		if got != sdnotify.Watchdog {
			t.Fatalf("while stopping: %q", got)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("daemon: %v", err)
	}
}
