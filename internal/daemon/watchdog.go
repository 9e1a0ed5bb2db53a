package daemon

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// uiAlive returns the watchdog's liveness check: a GET of the UI's / on
// its own listener, answered within timeout with a status under 500. A
// daemon whose UI no longer answers (a stuck handler chain, a dead accept
// loop) stops pinging the watchdog and systemd restarts it.
func uiAlive(ctx context.Context, addr net.Addr, timeout time.Duration, log *slog.Logger) func() bool {
	target := probeAddr(addr)
	client := &http.Client{
		Timeout: timeout,
		// A redirect (to a sign-in page) is an answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{DisableKeepAlives: true, Proxy: nil},
	}
	return func() bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target+"/", nil)
		if err != nil {
			log.Warn("watchdog: UI probe", "err", err)
			return false
		}
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("watchdog: UI does not answer; not pinging", "addr", target, "err", err)
			}
			return false
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			log.Warn("watchdog: UI answers with an error; not pinging", "addr", target, "status", resp.StatusCode)
			return false
		}
		return true
	}
}

// probeAddr is the address to reach a listener at: the loopback one of
// the same family when it listens on every address.
func probeAddr(a net.Addr) string {
	t, ok := a.(*net.TCPAddr)
	if !ok || !t.IP.IsUnspecified() {
		return a.String()
	}
	ip := net.IPv6loopback
	if t.IP.To4() != nil {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return (&net.TCPAddr{IP: ip, Port: t.Port}).String()
}
