package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestUIAlive(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	status := func(code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) })
	}
	for _, c := range []struct {
		name string
		h    http.Handler
		want bool
	}{
		{"ok", status(http.StatusOK), true},
		{"redirect to sign-in", http.RedirectHandler("/signin", http.StatusFound), true},
		{"not found", status(http.StatusNotFound), true},
		{"server error", status(http.StatusInternalServerError), false},
	} {
		srv := httptest.NewServer(c.h)
		ln := srv.Listener.Addr()
		if got := uiAlive(ctx, ln, time.Second, log)(); got != c.want {
			t.Errorf("%s: alive %v, want %v", c.name, got, c.want)
		}
		srv.Close()
	}

	// A listener that accepts and never answers: not alive, within the
	// timeout.
	stuck, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	start := time.Now()
	if uiAlive(ctx, stuck.Addr(), 200*time.Millisecond, log)() {
		t.Error("a UI that never answers is alive")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("probe took %v", d)
	}
	// Nothing listening: not alive.
	addr := stuck.Addr()
	stuck.Close()
	if uiAlive(ctx, addr, time.Second, log)() {
		t.Error("a closed UI is alive")
	}
}

func TestProbeAddr(t *testing.T) {
	for _, c := range []struct {
		in   net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "[::1]:8080"},
		{&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 80}, "10.1.2.3:80"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 9}, "[::1]:9"},
		{&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "/run/x.sock"},
	} {
		if got := probeAddr(c.in); got != c.want {
			t.Errorf("probeAddr(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
