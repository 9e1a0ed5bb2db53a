package main

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/internal/sdnotify"
)

// TestServeNotifiesSystemd runs the platform as systemd runs its
// Type=notify unit with WatchdogSec: READY=1, then WATCHDOG=1 pings at
// half of WATCHDOG_USEC, then STOPPING=1 when told to stop.
func TestServeNotifiesSystemd(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	path, _ := platformConf(t, b.URL())
	cfg, err := config.LoadPlatform(path)
	if err != nil {
		t.Fatal(err)
	}
	notifyPath := filepath.Join(t.TempDir(), "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifyPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	t.Setenv("NOTIFY_SOCKET", notifyPath)
	t.Setenv("WATCHDOG_USEC", "40000")
	t.Setenv("WATCHDOG_PID", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard) }()
	next := func() string {
		t.Helper()
		nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, 256)
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
	if got := next(); got != sdnotify.Ready {
		t.Fatalf("first notification %q, want %q", got, sdnotify.Ready)
	}
	for i := range 3 {
		if got := next(); got != sdnotify.Watchdog {
			t.Fatalf("notification %d after ready: %q", i, got)
		}
	}
	cancel()
	for got := next(); got != sdnotify.Stopping; got = next() {
		if got != sdnotify.Watchdog {
			t.Fatalf("while stopping: %q", got)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}
