package platform

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/mqttconn"
)

// PublishConfig says where and as whom Publish sends a command.
type PublishConfig struct {
	// Brokers are tried in turn until one accepts the connection.
	Brokers  []string
	TLS      *tls.Config
	Username string
	Password string
	// ClientID names the connection; empty picks a random one. It must
	// differ from every running instance's ("guichet-platform-<instance>"):
	// the broker would otherwise close that instance's session.
	ClientID string
	// Key signs the command: the platform key the devices trust.
	Key ed25519.PrivateKey
	// Timeout bounds the connection and the wait for the broker's PUBACK
	// when ctx has no earlier deadline; 0 means 30 s. Push waits for the
	// device's report on top of it.
	Timeout time.Duration
}

// Publish signs cmd and publishes it once at QoS 1 (docs/protocol.md,
// "Commands and configuration"), outside any running Server: on the
// device's command topic, or, with retain, as the retained message of its
// config topic, which the broker hands to the device whenever it
// subscribes, however late. It returns the topic once the broker has
// acknowledged the message (PUBACK), and disconnects. cmd must carry its
// version and expiry already: Push allocates them and waits for the
// device's report.
//
// The command is checked first as the device will check it
// (envelope.DecodeCommand), so a command the device would refuse is
// refused here instead of being delivered to no effect.
func Publish(ctx context.Context, cfg PublishConfig, cmd envelope.Command, retain bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout())
	defer cancel()
	c, frame, topic, err := prepared(ctx, cfg, cmd, retain)
	if err != nil {
		return "", err
	}
	defer c.Disconnect(250)
	if err := waitToken(ctx, c.Publish(topic, 1, retain, frame)); err != nil {
		return "", fmt.Errorf("platform: publish %s: %w", topic, err)
	}
	return topic, nil
}

func (cfg *PublishConfig) timeout() time.Duration {
	if cfg.Timeout <= 0 {
		return 30 * time.Second
	}
	return cfg.Timeout
}

// prepared checks and seals cmd and returns a client connected to the
// broker, the frame and the topic to publish it on.
func prepared(ctx context.Context, cfg PublishConfig, cmd envelope.Command, retain bool) (mqtt.Client, []byte, string, error) {
	if len(cfg.Brokers) == 0 {
		return nil, nil, "", errors.New("platform: publish: no broker")
	}
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, nil, "", errors.New("platform: publish: no platform key")
	}
	payload, err := json.Marshal(cmd)
	if err != nil {
		return nil, nil, "", fmt.Errorf("platform: publish: %w", err)
	}
	if _, err := envelope.DecodeCommand(payload); err != nil {
		return nil, nil, "", fmt.Errorf("platform: publish: %w", err)
	}
	if cmd.Expires <= time.Now().UnixMilli() {
		// The device refuses an expired command, but only after the
		// broker has accepted it: say so now.
		return nil, nil, "", errors.New("platform: publish: command already expired")
	}
	frame := envelope.Seal(cfg.Key, payload)
	if len(frame) > envelope.MaxFrame {
		return nil, nil, "", fmt.Errorf("platform: publish: %w", envelope.ErrTooLarge)
	}
	t := envelope.Topics{Tenant: cmd.Tenant, Device: cmd.Device}
	topic := t.Commands()
	if retain {
		topic = t.Config()
	}

	id := cfg.ClientID
	if id == "" {
		id = "guichet-platform-push-" + randomHex(8)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, "", fmt.Errorf("platform: publish: %w", err)
	}
	d := cfg.timeout()
	if deadline, ok := ctx.Deadline(); ok {
		d = time.Until(deadline)
	}
	// A one-shot client: a clean session and no retries, so that nothing
	// is left queued in paho or in the broker once the caller is done.
	o := mqtt.NewClientOptions().
		SetClientID(id).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetProtocolVersion(4).
		SetConnectTimeout(d).
		SetWriteTimeout(d)
	for _, b := range cfg.Brokers {
		o.AddBroker(b)
	}
	mqttconn.BufferReads(o, cfg.Brokers...)
	if cfg.TLS != nil {
		o.SetTLSConfig(cfg.TLS)
	}
	if cfg.Username != "" {
		o.SetUsername(cfg.Username).SetPassword(cfg.Password)
	}
	c := mqtt.NewClient(o)
	if err := waitToken(ctx, c.Connect()); err != nil {
		c.Disconnect(0)
		return nil, nil, "", fmt.Errorf("platform: publish: connect: %w", err)
	}
	return c, frame, topic, nil
}

// NewCommandID returns a random command id: a device applies each id once,
// so ids must never repeat, even between platform instances.
func NewCommandID() string { return "cmd-" + randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

func waitToken(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
