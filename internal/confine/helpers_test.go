package confine

import (
	"crypto/tls"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// attackWait is how long a test waits for a message that must not arrive,
// given how long the allowed one (the control) took: twenty times the
// control, and never less than two seconds.
func attackWait(control time.Duration) time.Duration {
	return max(2*time.Second, 20*control)
}

// inbox collects the messages of one subscription.
type inbox struct {
	mu   sync.Mutex
	msgs []mqtt.Message
	at   []time.Time
}

func (b *inbox) handle(_ mqtt.Client, m mqtt.Message) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, m)
	b.at = append(b.at, time.Now())
}

// with returns the messages whose payload is p.
func (b *inbox) with(p string) []mqtt.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []mqtt.Message
	for _, m := range b.msgs {
		if string(m.Payload()) == p {
			out = append(out, m)
		}
	}
	return out
}

func (b *inbox) all() []mqtt.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]mqtt.Message(nil), b.msgs...)
}

// waitFor waits up to d for a message with payload p and returns when it
// arrived.
func (b *inbox) waitFor(t *testing.T, p string, d time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		for i, m := range b.msgs {
			if string(m.Payload()) == p {
				at := b.at[i]
				b.mu.Unlock()
				return at
			}
		}
		b.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("control %q did not arrive within %v", p, d)
	return time.Time{}
}

// dial connects a client; cfg may be nil for plain TLS without a client
// certificate (the caller then passes a config with only RootCAs).
func dial(url, id string, cfg *tls.Config) (mqtt.Client, error) {
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetTLSConfig(cfg).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetProtocolVersion(4).SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errTimeout
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	return c, nil
}

type timeoutError struct{}

func (timeoutError) Error() string { return "connect timed out" }

var errTimeout error = timeoutError{}

// mustDial connects or fails the test; the client disconnects at its end.
func mustDial(t *testing.T, url, id string, cfg *tls.Config) mqtt.Client {
	t.Helper()
	c, err := dial(url, id, cfg)
	if err != nil {
		t.Fatalf("connect %s to %s: %v", id, url, err)
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

// subscribe subscribes and returns the broker's SUBACK code for filter.
func subscribe(t *testing.T, c mqtt.Client, filter string, b *inbox) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, b.handle)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	r := tok.(*mqtt.SubscribeToken).Result()
	key := filter
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		// paho keys a shared subscription by its filter without the
		// group.
		_, key, _ = strings.Cut(rest, "/")
	}
	code, ok := r[key]
	if !ok {
		t.Fatalf("subscribe %s: no SUBACK code for it in %v", filter, r)
	}
	return code
}

// publish publishes at QoS 1 and returns the PUBACK's outcome.
func publish(t *testing.T, c mqtt.Client, topic, payload string, retain bool) error {
	t.Helper()
	tok := c.Publish(topic, 1, retain, payload)
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("publish %s: no PUBACK within 10s", topic)
	}
	return tok.Error()
}

func writeCRL(t *testing.T, path string, pem []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		t.Fatal(err)
	}
}
