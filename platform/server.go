package platform

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/mqttconn"
)

// ServerConfig sets up a platform instance.
type ServerConfig struct {
	Instance string
	Brokers  []string
	TLS      *tls.Config
	Username string
	Password string
	// Shared subscribes through $share/guichet-platform/..., so that the
	// instances on one broker split the devices' records between them.
	Shared bool
	// Key signs acks and commands.
	Key        ed25519.PrivateKey
	BatchMax   int
	BatchDelay time.Duration
	Logger     *slog.Logger
	// Handlers serve further subscriptions beside the records, such as
	// enrolment (platform/enrol).
	Handlers []Handler
}

// A Handler serves one subscription: Serve gets each message and returns
// the answer to publish and its topic, or an empty topic for none. It runs
// in the MQTT client's router, in order, so it must be quick.
type Handler struct {
	Filter string
	Serve  func(ctx context.Context, topic string, payload []byte) (replyTopic string, reply []byte)
}

// Server consumes records from the broker and acks them.
type Server struct {
	cfg     ServerConfig
	applier *Applier
	log     *slog.Logger
	in      chan Incoming

	mu      sync.Mutex
	refused map[string]uint64 // reason -> count
	client  mqtt.Client
}

// NewServer returns a server applying into store with decider.
func NewServer(cfg ServerConfig, store *Store, decider Decider) *Server {
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = 2000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "platform", "instance", cfg.Instance),
		in: make(chan Incoming, 4*cfg.BatchMax), refused: map[string]uint64{}}
	s.applier = &Applier{Store: store, Decider: decider, Instance: cfg.Instance, Reject: s.noteReject}
	return s
}

func (s *Server) noteReject(tenant, device string, seq uint64, reason string) {
	s.mu.Lock()
	s.refused[reason]++
	s.mu.Unlock()
	s.log.Warn("record refused", "tenant", tenant, "device", device, "seq", seq, "reason", reason)
}

// Refused returns the count of refused messages by reason.
func (s *Server) Refused() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(s.refused))
	for k, v := range s.refused {
		out[k] = v
	}
	return out
}

// Run consumes until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	filter := envelope.AllRecords
	if s.cfg.Shared {
		filter = "$share/guichet-platform/" + envelope.AllRecords
	}
	o := mqtt.NewClientOptions().
		SetClientID("guichet-platform-" + s.cfg.Instance).
		SetCleanSession(false).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(500 * time.Millisecond).
		SetMaxReconnectInterval(5 * time.Second).
		SetKeepAlive(10 * time.Second).
		SetOrderMatters(true).
		SetOnConnectHandler(func(c mqtt.Client) {
			// Subscribing on every connection covers a broker that lost
			// the session.
			tok := c.Subscribe(filter, 1, s.onRecord)
			tok.Wait()
			if err := tok.Error(); err != nil {
				s.log.Error("subscribe", "err", err)
				return
			}
			// Every instance records the reports (again is a no-op), so
			// the applied topic needs no shared subscription in the ACL.
			if tok := c.Subscribe(envelope.AllApplied, 1, s.onApplied); tok.Wait() && tok.Error() != nil {
				s.log.Error("subscribe", "err", tok.Error())
				return
			}
			// Status, last will and health: every instance records them too.
			for f, h := range map[string]mqtt.MessageHandler{envelope.AllStatus: s.onStatus, envelope.AllHealth: s.onHealth} {
				if tok := c.Subscribe(f, 1, h); tok.Wait() && tok.Error() != nil {
					s.log.Error("subscribe", "filter", f, "err", tok.Error())
					return
				}
			}
			for _, h := range s.cfg.Handlers {
				if err := s.subscribe(ctx, c, h); err != nil {
					s.log.Error("subscribe", "filter", h.Filter, "err", err)
					return
				}
			}
			s.log.Info("platform connected", "filter", filter)
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { s.log.Warn("platform link lost", "err", err) })
	for _, b := range s.cfg.Brokers {
		o.AddBroker(b)
	}
	mqttconn.BufferReads(o, s.cfg.Brokers...)
	if s.cfg.TLS != nil {
		o.SetTLSConfig(s.cfg.TLS)
	}
	if s.cfg.Username != "" {
		o.SetUsername(s.cfg.Username).SetPassword(s.cfg.Password)
	}
	c := mqtt.NewClient(o)
	s.mu.Lock()
	s.client = c
	s.mu.Unlock()
	c.Connect() // retries by itself until Disconnect
	defer c.Disconnect(500)
	return s.applyLoop(ctx, c)
}

// subscribe serves h, through the instances' shared subscription when
// they share the load, so that one instance answers each message.
func (s *Server) subscribe(ctx context.Context, c mqtt.Client, h Handler) error {
	filter := h.Filter
	if s.cfg.Shared {
		filter = "$share/guichet-platform/" + filter
	}
	tok := c.Subscribe(filter, 1, func(c mqtt.Client, m mqtt.Message) {
		topic, reply := h.Serve(ctx, m.Topic(), m.Payload())
		if topic != "" {
			// Not awaited, as acks are not: the asker asks again.
			c.Publish(topic, 1, false, reply)
		}
	})
	tok.Wait()
	return tok.Error()
}

// onRecord runs in paho's router; blocking here is the backpressure that
// keeps the broker from flooding a slow store.
func (s *Server) onRecord(_ mqtt.Client, m mqtt.Message) {
	s.in <- Incoming{Topic: m.Topic(), Frame: m.Payload()}
}

// applyLoop collects batches off the broker and checks them, while a second
// goroutine applies the batch checked before and acks it: the checks of one
// batch overlap the transaction of the previous one. Batches are applied in
// the order they were collected, so a device's records still arrive in order.
func (s *Server) applyLoop(ctx context.Context, c mqtt.Client) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	checked := make(chan *Checked, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case cb := <-checked:
				out, err := s.applier.ApplyChecked(ctx, cb)
				if err != nil {
					// Nothing was acked: the devices will send again.
					s.log.Error("apply batch", "err", err, "records", cb.Len())
					continue
				}
				for _, a := range out.Acks {
					s.publishAck(c, a)
				}
			}
		}
	}()
	defer func() { cancel(); <-done }()
	for {
		batch, err := s.collect(ctx)
		if err != nil {
			return err
		}
		select {
		case checked <- s.applier.Check(ctx, batch):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// collect waits for a first message, then takes what else arrives within
// BatchDelay, up to BatchMax. Each batch is a new slice: the one before may
// still be being applied.
func (s *Server) collect(ctx context.Context) ([]Incoming, error) {
	batch := make([]Incoming, 0, 64)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case m := <-s.in:
		batch = append(batch, m)
	}
	deadline := time.After(s.cfg.BatchDelay)
	for len(batch) < s.cfg.BatchMax {
		select {
		case m := <-s.in:
			batch = append(batch, m)
			continue
		default:
		}
		if s.cfg.BatchDelay <= 0 {
			break
		}
		select {
		case m := <-s.in:
			batch = append(batch, m)
			continue
		case <-deadline:
		}
		break
	}
	return batch, nil
}

func (s *Server) publishAck(c mqtt.Client, a *envelope.Ack) {
	payload, err := json.Marshal(a)
	if err != nil {
		s.log.Error("ack encode", "err", err)
		return
	}
	t := envelope.Topics{Tenant: a.Tenant, Device: a.Device}
	// Not awaited: a lost ack is made good by the device's resend, which
	// is answered as a duplicate with the stored result.
	c.Publish(t.Acks(), 1, false, envelope.Seal(s.cfg.Key, payload))
}

// SendCommand signs and publishes a command to a device, giving it the
// next version of its stream and, if it has none, the default expiry.
func (s *Server) SendCommand(ctx context.Context, cmd envelope.Command) error {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("platform: not running")
	}
	if err := s.applier.Store.prepare(ctx, &cmd); err != nil {
		return err
	}
	payload, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	t := envelope.Topics{Tenant: cmd.Tenant, Device: cmd.Device}
	tok := c.Publish(t.Commands(), 1, false, envelope.Seal(s.cfg.Key, payload))
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
