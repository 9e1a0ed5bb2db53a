package fault

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoServer echoes lines and records when its connections end.
type echoServer struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	ended  int
	opened int
}

func newEcho(t *testing.T) *echoServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.opened++
			e.mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				io.Copy(c, c)
				c.Close()
				e.mu.Lock()
				e.ended++
				e.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); e.wg.Wait() })
	return e
}

func (e *echoServer) counts() (opened, ended int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.opened, e.ended
}

func newProxy(t *testing.T, target string) *Proxy {
	p, err := NewProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := r.ReadString('\n')
	if err != nil || got != msg+"\n" {
		t.Fatalf("echo of %q: %q, %v", msg, got, err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("not within 5s: %s", what)
}

func TestProxyForwards(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c, r := dial(t, p)
	roundTrip(t, c, r, "hello")
	big := strings.Repeat("x", 1<<20) // more than one read buffer
	roundTrip(t, c, r, big)
	c.Close()
	eventually(t, "server sees the client's close", func() bool { _, ended := e.counts(); return ended == 1 })
	eventually(t, "pair forgotten", func() bool { return p.Live() == 0 })
	if s := p.Stats(); s.Accepted != 1 || s.Cut != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestProxyCutClosesBothSides(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c1, r1 := dial(t, p)
	c2, r2 := dial(t, p)
	roundTrip(t, c1, r1, "one")
	roundTrip(t, c2, r2, "two")
	if n := p.Cut(); n != 2 {
		t.Fatalf("Cut closed %d connections, want 2", n)
	}
	for _, r := range []*bufio.Reader{r1, r2} {
		if _, err := r.ReadString('\n'); err == nil {
			t.Fatal("client read after Cut succeeded")
		}
	}
	eventually(t, "server sees both closes", func() bool { _, ended := e.counts(); return ended == 2 })
	// The proxy still forwards new connections.
	c3, r3 := dial(t, p)
	roundTrip(t, c3, r3, "three")
}

func TestProxyStallIsHalfOpen(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c, r := dial(t, p)
	roundTrip(t, c, r, "before")
	if n := p.Stall(); n != 1 {
		t.Fatalf("Stall froze %d connections, want 1", n)
	}
	// The client can still write (its kernel accepts the bytes) but
	// nothing comes back, and no close arrives either.
	c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := io.WriteString(c, "lost\n"); err != nil {
		t.Fatalf("write to a half-open connection failed at once: %v", err)
	}
	_, err := r.ReadString('\n')
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a half-open connection: %v, want a timeout", err)
	}
	// The proxy closed nothing on the server's side either.
	if _, ended := e.counts(); ended != 0 {
		t.Fatalf("server saw %d closes through a frozen connection", ended)
	}
	if p.Live() != 0 {
		t.Fatal("a frozen connection counts as live")
	}
	if s := p.Stats(); s.Stalled != 1 {
		t.Fatalf("stats %+v", s)
	}
	// Cut ends the frozen pair: now the client sees the close.
	if n := p.Cut(); n != 1 {
		t.Fatalf("Cut after Stall closed %d, want 1", n)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); errors.Is(err, os.ErrDeadlineExceeded) || err == nil {
		t.Fatalf("read after Cut: %v, want a closed connection", err)
	}
}

func TestProxyStallLeavesNewConnectionsWorking(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c1, r1 := dial(t, p)
	roundTrip(t, c1, r1, "a")
	p.Stall()
	c2, r2 := dial(t, p)
	roundTrip(t, c2, r2, "b")
	if p.Live() != 1 {
		t.Fatalf("live %d, want 1", p.Live())
	}
}

func TestProxyRefuseAndTargetDown(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	p.Refuse(true)
	c, r := dial(t, p)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("a refused connection stayed open")
	}
	p.Refuse(false)
	c2, r2 := dial(t, p)
	roundTrip(t, c2, r2, "back")

	// Target down: the client's connection is closed, as connecting to
	// the dead target would fail.
	down := newProxy(t, "127.0.0.1:1")
	c3, r3 := dial(t, down)
	c3.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r3.ReadString('\n'); err == nil {
		t.Fatal("connection to a dead target stayed open")
	}
	if s := down.Stats(); s.Refused != 1 || s.Accepted != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestProxyCloseEndsEverything(t *testing.T) {
	e := newEcho(t)
	p, err := NewProxy(e.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, r := dial(t, p)
	roundTrip(t, c, r, "x")
	c2, r2 := dial(t, p)
	roundTrip(t, c2, r2, "y")
	p.Stall()
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: a goroutine outlived the proxy")
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("the proxy still accepts after Close")
	}
}
