// Package link carries the outbox to the platform over MQTT and brings the
// platform's acks, results and signed commands back.
//
// The outbox is the source of truth, not paho's store: the link keeps a
// window of records in flight, forgets a record only when the platform's
// signed ack covers it, and after a reconnect or an ack timeout sends again
// everything not yet acked (go-back-N). The platform de-duplicates by
// sequence number, so a record sent twice is applied once.
package link

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/mqttconn"
	"github.com/guichet/guichet/sync/outbox"
)

// Outbox is what the link needs of the durable store.
type Outbox interface {
	Pending(ctx context.Context, after uint64, limit int) ([]outbox.Entry, error)
	Ack(ctx context.Context, upto uint64) error
	Stats() outbox.Stats
	Appended() <-chan struct{}
	downlinkStore
	// Identity, Rekey, NoteRejections and SkipRejected: outbox identity
	// and rejected records (sync/outbox/identity.go, docs/protocol.md).
	Identity() envelope.OutboxID
	Rekey(ctx context.Context, why string) (envelope.OutboxID, error)
	NoteRejections(ctx context.Context, id envelope.OutboxID, rejects []envelope.Reject) error
	SkipRejected(ctx context.Context, id envelope.OutboxID, seq uint64, reason, command string) error
}

// Config sets up a link.
type Config struct {
	Tenant, Device string
	// Brokers are tried in turn: on a failure the next one is used.
	Brokers []string
	// TLS is used for ssl:// brokers; it carries the device certificate.
	TLS      *tls.Config
	Username string
	Password string
	// PlatformKey checks acks and commands.
	PlatformKey ed25519.PublicKey
	// Window is how many records may be in flight, unacked.
	Window int
	// AckTimeout is how long without ack progress before sending again.
	AckTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between connection attempts.
	MinBackoff, MaxBackoff time.Duration
	// KeepAlive is the MQTT keep-alive; a link silent for longer is
	// presumed half-open and dropped.
	KeepAlive time.Duration
	Logger    *slog.Logger
	// Router hands each result the platform sends, in order, and each
	// checked command not seen before to the flow that owns it. Nil
	// drops results and refuses every command but "sync", which the link
	// takes itself.
	Router *Router
	// Degraded names the peripherals not ok, for the published status;
	// nil reports none.
	Degraded func() []string
}

// Status is what the UI and `guichet status` show of the link.
type Status struct {
	Connected bool      `json:"connected"`
	Broker    string    `json:"broker,omitempty"`
	LastAck   time.Time `json:"last_ack,omitempty"`
	LastSync  time.Time `json:"last_sync,omitempty"` // last time the queue was empty and acked
	Sent      uint64    `json:"sent"`
	Resent    uint64    `json:"resent"`
	Refused   uint64    `json:"refused"` // downlink messages refused (bad signature, malformed...)
	Rejected  uint64    `json:"rejected"`
	// Refusals counts the refused downlink messages by reason
	// (envelope.ReasonReplayed, ...).
	Refusals map[string]uint64 `json:"refusals,omitempty"`
	// Versions is the last version applied on each downlink stream.
	Versions map[string]uint64 `json:"versions,omitempty"`
	// DownlinkError says why no command can be applied, if so.
	DownlinkError string `json:"downlink_error,omitempty"`
	// Rekeys counts the store's identity changes the link asked for
	// (conflicts: a store restored from a copy).
	Rekeys uint64 `json:"rekeys"`
	// Reconnects counts the sessions opened after the first.
	Reconnects uint64 `json:"reconnects"`
}

// Link is a running connection to the platform.
type Link struct {
	cfg Config
	ob  Outbox
	log *slog.Logger

	syncNow   chan struct{}
	statusNow chan struct{}
	inbox     chan mqtt.Message // downlink messages, handed over by paho

	mu     sync.Mutex
	status Status
	dl     downlink

	// client is the connected session's, for Publish; nil between
	// sessions. Guarded by mu.
	client mqtt.Client

	sent, resent, refused, rejected, rekeys atomic.Uint64
	sessions                                atomic.Uint64
	highestSent                             atomic.Uint64 // owned by the session loop

	// types is the record type of each record sent and not yet acked, by
	// seq, so that a result goes to the flow of the record it answers.
	// Owned by the session loop.
	types map[uint64]string
}

// New returns a link; Run starts it.
func New(cfg Config, ob Outbox) (*Link, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("link: no broker")
	}
	if len(cfg.PlatformKey) != ed25519.PublicKeySize {
		return nil, errors.New("link: no platform key")
	}
	if cfg.Window <= 0 {
		cfg.Window = 1000
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 5 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Link{cfg: cfg, ob: ob, log: cfg.Logger.With("component", "link"),
		syncNow: make(chan struct{}, 1), statusNow: make(chan struct{}, 1), inbox: make(chan mqtt.Message, 4096),
		types: map[uint64]string{}}, nil
}

// SyncNow asks the link to send the queue at once, without waiting for
// the ack timeout or the next reconnection attempt.
func (l *Link) SyncNow() {
	select {
	case l.syncNow <- struct{}{}:
	default:
	}
}

// StatusChanged asks the link to publish its status at once, as when a
// peripheral's state changed, rather than at the next 30 s tick.
func (l *Link) StatusChanged() {
	select {
	case l.statusNow <- struct{}{}:
	default:
	}
}

// Status reports the link's state.
func (l *Link) Status() Status {
	l.mu.Lock()
	s := l.status
	l.mu.Unlock()
	s.Sent, s.Resent, s.Refused, s.Rejected, s.Rekeys = l.sent.Load(), l.resent.Load(), l.refused.Load(), l.rejected.Load(), l.rekeys.Load()
	if n := l.sessions.Load(); n > 1 {
		s.Reconnects = n - 1
	}
	l.dl.status(&s)
	return s
}

func (l *Link) setConnected(on bool, broker string) {
	l.mu.Lock()
	l.status.Connected, l.status.Broker = on, broker
	l.mu.Unlock()
}

func (l *Link) setClient(c mqtt.Client) {
	l.mu.Lock()
	l.client = c
	l.mu.Unlock()
}

// ErrNotConnected says the link has no session to publish on now.
var ErrNotConnected = errors.New("link: not connected")

// Publish sends payload on topic (QoS 1) over the link's current session,
// for a flow that talks to the platform outside the outbox (a certificate
// renewal, say), and waits for the broker's PUBACK. Without a session it
// fails with ErrNotConnected; the caller tries again later.
func (l *Link) Publish(ctx context.Context, topic string, payload []byte) error {
	l.mu.Lock()
	c := l.client
	l.mu.Unlock()
	if c == nil {
		return ErrNotConnected
	}
	if err := wait(ctx, c.Publish(topic, 1, false, payload)); err != nil {
		return fmt.Errorf("link: publish %s: %w", topic, err)
	}
	return nil
}

// Run connects and syncs until ctx ends; it returns ctx's error.
func (l *Link) Run(ctx context.Context) error {
	if err := l.loadVersions(ctx); err != nil {
		// Records still flow; commands wait until the setting is fixed.
		l.log.Error("downlink versions", "err", err)
	}
	attempt := 0
	for i := 0; ; i++ {
		broker := l.cfg.Brokers[i%len(l.cfg.Brokers)]
		err := l.session(ctx, broker)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errHadSession) {
			attempt = 0
		}
		d := l.backoff(attempt)
		attempt++
		l.log.Warn("link down", "broker", broker, "err", err, "retry_in", d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		case <-l.syncNow:
		}
	}
}

// backoff doubles from MinBackoff up to MaxBackoff, with full jitter on its
// upper half so a fleet that lost its broker does not come back in step.
func (l *Link) backoff(attempt int) time.Duration {
	d := l.cfg.MinBackoff
	for i := 0; i < attempt && d < l.cfg.MaxBackoff; i++ {
		d *= 2
	}
	if d > l.cfg.MaxBackoff {
		d = l.cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// errHadSession says the session got connected before it ended, so the
// backoff starts again from the bottom.
var errHadSession = errors.New("connection lost")

func (l *Link) topics() envelope.Topics {
	return envelope.Topics{Tenant: l.cfg.Tenant, Device: l.cfg.Device}
}

func (l *Link) clientOptions(broker string, lost chan<- error) *mqtt.ClientOptions {
	will, _ := json.Marshal(envelope.Status{Online: false})
	o := mqtt.NewClientOptions().
		AddBroker(broker).
		SetClientID(l.cfg.Tenant+"."+l.cfg.Device).
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(l.cfg.KeepAlive).
		SetPingTimeout(l.cfg.KeepAlive/2).
		SetProtocolVersion(4). // MQTT 3.1.1 only: NATS refuses the 3.1 fallback
		// NATS answers CONNECT only once its JetStream has re-elected (4-8 s).
		SetConnectTimeout(10*time.Second).
		SetWriteTimeout(5*time.Second).
		SetOrderMatters(true).
		SetBinaryWill(l.topics().Status(), will, 1, true).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		}).
		SetDefaultPublishHandler(l.enqueue)
	if l.cfg.TLS != nil {
		o.SetTLSConfig(l.cfg.TLS)
	}
	mqttconn.BufferReads(o, broker)
	if l.cfg.Username != "" {
		o.SetUsername(l.cfg.Username).SetPassword(l.cfg.Password)
	}
	return o
}

// enqueue hands a downlink message to the session loop. It runs in paho's
// router, which must not block on the store.
func (l *Link) enqueue(_ mqtt.Client, m mqtt.Message) {
	select {
	case l.inbox <- m:
	default:
		// Dropping is safe: acks are cumulative and come again with the
		// next record; commands are retained or resent by the platform.
		l.refused.Add(1)
	}
}

// session runs one connection to broker until it is lost or ctx ends.
func (l *Link) session(ctx context.Context, broker string) error {
	lost := make(chan error, 1)
	c := mqtt.NewClient(l.clientOptions(broker, lost))
	if err := wait(ctx, c.Connect()); err != nil {
		return fmt.Errorf("connect %s: %w", broker, err)
	}
	defer func() {
		l.setConnected(false, "")
		c.Disconnect(250)
	}()
	if err := wait(ctx, c.Subscribe(l.topics().Down(), 1, l.enqueue)); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	l.setConnected(true, broker)
	l.sessions.Add(1)
	l.setClient(c)
	defer l.setClient(nil)
	l.publishStatus(c, true)
	l.log.Info("link up", "broker", broker)

	ident := l.ob.Identity()
	st := l.ob.Stats()
	next := st.Acked + 1 // everything unacked goes again on a new session
	if hs := l.highestSent.Load(); hs > st.Acked {
		// Counted as resent only what this process had sent before.
		l.resent.Add(hs - st.Acked)
	}
	lastProgress := time.Now()
	ackTimer := time.NewTimer(l.cfg.AckTimeout)
	defer ackTimer.Stop()
	statusTick := time.NewTicker(30 * time.Second)
	defer statusTick.Stop()
	for {
		appended := l.ob.Appended()
		if id := l.ob.Identity(); id != ident {
			// Rekeyed: the waiting records have new numbers under a new
			// identity; send them all from the start.
			ident = id
			next = 1
			clear(l.types)
			l.highestSent.Store(0)
		}
		st = l.ob.Stats()
		if next <= st.Acked {
			next = st.Acked + 1
		}
		inflight := next - 1 - st.Acked
		if room := uint64(l.cfg.Window) - min(inflight, uint64(l.cfg.Window)); room > 0 && next <= st.LastSeq {
			ents, err := l.ob.Pending(ctx, next-1, int(room))
			if err != nil {
				return err
			}
			for _, e := range ents {
				if !c.IsConnectionOpen() {
					return errHadSession
				}
				// The token is not awaited: delivery is proven by the
				// platform's ack, and a lost publish is sent again.
				tok := c.Publish(l.topics().Records(), 1, false, e.Frame)
				if tok.Error() != nil {
					return fmt.Errorf("%w: publish: %v", errHadSession, tok.Error())
				}
				next = e.Seq + 1
				l.types[e.Seq] = e.Type
				if e.Seq > l.highestSent.Load() {
					l.highestSent.Store(e.Seq)
				}
				l.sent.Add(1)
			}
			if len(ents) > 0 {
				continue // fill the window before sleeping
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-lost:
			return fmt.Errorf("%w: %v", errHadSession, err)
		case <-appended:
		case m := <-l.inbox:
			if l.handle(ctx, c, m) {
				lastProgress = time.Now()
				if !ackTimer.Stop() {
					select {
					case <-ackTimer.C:
					default:
					}
				}
				ackTimer.Reset(l.cfg.AckTimeout)
			}
		case <-l.syncNow:
			next = l.ob.Stats().Acked + 1
		case <-ackTimer.C:
			st = l.ob.Stats()
			if st.LastSeq > st.Acked && time.Since(lastProgress) >= l.cfg.AckTimeout {
				// No ack progress: the platform or the broker lost some of
				// what was sent. Go back to the first unacked record.
				l.resent.Add(next - 1 - st.Acked)
				next = st.Acked + 1
				l.log.Info("no ack progress, sending again", "from", next, "depth", st.Depth)
			}
			ackTimer.Reset(l.cfg.AckTimeout)
		case <-statusTick.C:
			l.publishStatus(c, true)
		case <-l.statusNow:
			l.publishStatus(c, true)
		}
	}
}

func (l *Link) publishStatus(c mqtt.Client, online bool) {
	st := envelope.Status{Online: online, Depth: l.ob.Stats().Depth, At: time.Now().UnixMilli()}
	if l.cfg.Degraded != nil {
		st.Degraded = l.cfg.Degraded()
	}
	b, _ := json.Marshal(st)
	c.Publish(l.topics().Status(), 1, true, b)
}

// handle checks and applies one downlink message; it reports whether the
// ack covered new records.
func (l *Link) handle(ctx context.Context, c mqtt.Client, m mqtt.Message) bool {
	t := l.topics()
	if h := l.cfg.Router.rawHandler(m.Topic()); h != nil {
		h(m.Payload())
		return false
	}
	payload, err := envelope.Open(l.cfg.PlatformKey, m.Payload())
	if err != nil {
		l.refuseFrame(c, m.Topic(), m.Payload(), err)
		return false
	}
	switch m.Topic() {
	case t.Acks():
		a, err := envelope.DecodeAck(payload)
		if err != nil {
			l.refuse(envelope.ReasonMalformed)
			l.log.Warn("ack refused", "err", err)
			return false
		}
		if a.Tenant != l.cfg.Tenant || a.Device != l.cfg.Device {
			l.refuse(envelope.ReasonForeign)
			l.log.Warn("ack refused: for another device", "tenant", a.Tenant, "device", a.Device)
			return false
		}
		return l.applyAck(ctx, a)
	case t.Commands(), t.Config():
		l.command(ctx, c, m, payload)
	default:
		l.refuse(envelope.ReasonMalformed)
	}
	return false
}

// wait waits for a paho token or ctx.
func wait(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
