package fault

import (
	"fmt"
	"net"
	"sync"
)

// Proxy is a TCP proxy on loopback that forwards each connection to a
// target and can break the connections it carries the way networks break:
// Cut closes both sides at once (a link that drops and resets), Stall stops
// forwarding in both directions while keeping both sockets open (a
// half-open connection: a NAT entry or a route lost without a reset, that
// only keep-alives can detect).
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   map[*pair]struct{}
	refuse  bool
	closed  bool
	stats   ProxyStats
	workers sync.WaitGroup // the accept loop and every pump
}

// ProxyStats counts what the proxy did.
type ProxyStats struct {
	Accepted int // connections forwarded to the target
	Refused  int // connections closed at once while refusing, or the target down
	Cut      int // connections closed by Cut
	Stalled  int // connections frozen by Stall
}

// pair is one proxied connection: the client's side and the target's.
type pair struct {
	client, server net.Conn
	stalled        chan struct{} // closed when frozen
	once           sync.Once
}

func (p *pair) close() {
	p.client.Close()
	p.server.Close()
}

// NewProxy listens on a free loopback port and forwards every connection
// to target (host:port). Close stops it.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault: proxy listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[*pair]struct{}{}}
	p.workers.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's address as an MQTT tcp:// URL.
func (p *Proxy) URL() string { return "tcp://" + p.Addr() }

// Stats returns the counters.
func (p *Proxy) Stats() ProxyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Live returns how many connections are open and forwarding.
func (p *Proxy) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		select {
		case <-c.stalled:
		default:
			n++
		}
	}
	return n
}

// Refuse makes the proxy close new connections as soon as it accepts
// them (on) or forward them again (off); open connections are untouched.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Cut closes both sides of every open connection, stalled ones included,
// and returns how many it closed.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		c.close()
		delete(p.conns, c)
		n++
	}
	p.stats.Cut += n
	return n
}

// Stall freezes every open connection: from now on nothing is read from
// either side, so nothing is forwarded and neither side sees the other
// close. The connections stay frozen until Cut or Close. New connections
// are forwarded normally. It returns how many it froze.
func (p *Proxy) Stall() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.conns {
		select {
		case <-c.stalled:
		default:
			close(c.stalled)
			n++
		}
	}
	p.stats.Stalled += n
	return n
}

// Close stops accepting, closes every connection and waits for the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Cut()
	p.workers.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.workers.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		refuse, closed := p.refuse, p.closed
		if refuse || closed {
			p.stats.Refused++
		}
		p.mu.Unlock()
		if refuse || closed {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			// The target is down: the client sees what it would see
			// connecting to it directly, a closed connection.
			p.mu.Lock()
			p.stats.Refused++
			p.mu.Unlock()
			c.Close()
			continue
		}
		pr := &pair{client: c, server: s, stalled: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			pr.close()
			continue
		}
		p.conns[pr] = struct{}{}
		p.stats.Accepted++
		p.workers.Add(2)
		p.mu.Unlock()
		go p.pump(pr, s, c)
		go p.pump(pr, c, s)
	}
}

// pump copies src to dst until either side closes or the pair is frozen.
// Once frozen it stops reading, writes nothing more and closes nothing: the
// peers' send buffers fill as on a dead route, and both ends keep believing
// the connection is up until Cut or Close.
func (p *Proxy) pump(pr *pair, dst, src net.Conn) {
	defer p.workers.Done()
	buf := make([]byte, 32<<10)
	for {
		select {
		case <-pr.stalled:
			return
		default:
		}
		n, err := src.Read(buf)
		select {
		case <-pr.stalled:
			// What was read while freezing is dropped, as a dead route
			// would drop it, and an end of stream is not passed on.
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				p.drop(pr)
				return
			}
		}
		if err != nil {
			p.drop(pr)
			return
		}
	}
}

// drop closes a pair whose one side ended, as a transparent proxy passes
// a close on.
func (p *Proxy) drop(pr *pair) {
	p.mu.Lock()
	_, live := p.conns[pr]
	if live {
		select {
		case <-pr.stalled:
			live = false // frozen pairs pass nothing on, not even a close
		default:
			delete(p.conns, pr)
		}
	}
	p.mu.Unlock()
	if live {
		pr.close()
	}
}
