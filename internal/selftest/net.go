package selftest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

// Broker checks that a broker accepts the device's credentials: it
// connects with them under a client ID of its own (so the daemon's session
// is not taken over) and disconnects. Each broker is tried in turn; the
// first that accepts passes the check.
func Broker(brokers []string, tc *tls.Config, username, password, clientID string) Check {
	return Check{Name: "broker", Timeout: 12 * time.Second, Run: func(ctx context.Context) Result {
		if len(brokers) == 0 {
			return Skipped("no broker configured")
		}
		if tc != nil && len(tc.Certificates) > 0 {
			if leaf, err := leafOf(tc.Certificates[0]); err == nil && time.Now().After(leaf.NotAfter) {
				return Failed(fmt.Errorf("the device certificate expired on %s", leaf.NotAfter.Format(time.DateOnly)),
					"check the clock, then re-enrol the device (guichet provision) to get a new certificate")
			}
		}
		var errs []string
		for _, b := range brokers {
			err := connect(ctx, b, tc, username, password, clientID)
			if err == nil {
				return Passed("%s accepts the device's credentials", b)
			}
			errs = append(errs, fmt.Sprintf("%s: %v", b, err))
		}
		return Failed(errors.New(strings.Join(errs, "; ")),
			"check the network (ping the broker), the clock, and that the device's certificate is not revoked; re-enrol if the platform replaced it")
	}}
}

func leafOf(c tls.Certificate) (*x509.Certificate, error) {
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("no certificate")
	}
	return x509.ParseCertificate(c.Certificate[0])
}

// connect opens and closes one MQTT session to broker.
func connect(ctx context.Context, broker string, tc *tls.Config, username, password, clientID string) error {
	timeout := 5 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	o := mqtt.NewClientOptions().AddBroker(broker).SetClientID(clientID).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetConnectTimeout(timeout)
	if tc != nil {
		o.SetTLSConfig(tc)
	}
	if username != "" {
		o.SetUsername(username).SetPassword(password)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return err
	}
	c.Disconnect(100)
	return nil
}

// PingType is the record type of the self-test's ping; the platform
// applies it as it does any record of a type it has no rule for, and its
// answer comes back on the ack like any result.
const PingType = "device.ping"

// Appender is the outbox the ping goes through.
type Appender interface {
	Append(ctx context.Context, r outbox.Record) (outbox.Entry, error)
}

// Pinger sends pings through the outbox and matches the platform's
// answers, which the link hands to OnResult.
type Pinger struct {
	Outbox Appender
	// SyncNow, if not nil, asks the link to send at once.
	SyncNow func()

	mu      sync.Mutex
	waiting map[string]chan envelope.Result
}

// OnResult takes the platform's answer to a ping; register it with the
// link's router for PingType.
func (p *Pinger) OnResult(res envelope.Result) {
	p.mu.Lock()
	ch := p.waiting[res.Key]
	delete(p.waiting, res.Key)
	p.mu.Unlock()
	if ch != nil {
		ch <- res
	}
}

// Ping appends a ping record and waits for the platform's answer.
func (p *Pinger) Ping(ctx context.Context) (envelope.Result, error) {
	now := time.Now()
	key := fmt.Sprintf("selftest-%d", now.UnixNano())
	ch := make(chan envelope.Result, 1)
	p.mu.Lock()
	if p.waiting == nil {
		p.waiting = map[string]chan envelope.Result{}
	}
	p.waiting[key] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.waiting, key)
		p.mu.Unlock()
	}()
	body, _ := json.Marshal(struct {
		At int64 `json:"at"`
	}{now.UnixMilli()})
	if _, err := p.Outbox.Append(ctx, outbox.Record{Key: key, Type: PingType, Body: body}); err != nil {
		return envelope.Result{}, fmt.Errorf("selftest: ping: %w", err)
	}
	if p.SyncNow != nil {
		p.SyncNow()
	}
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		return envelope.Result{}, fmt.Errorf("selftest: ping: no answer from the platform: %w", ctx.Err())
	}
}

// Platform checks that the platform answers a ping through the outbox
// round trip: stored, sent, applied, acknowledged with its result.
func Platform(p *Pinger, timeout time.Duration) Check {
	return Check{Name: "platform", Timeout: timeout, Run: func(ctx context.Context) Result {
		start := time.Now()
		res, err := p.Ping(ctx)
		if err != nil {
			return Failed(fmt.Errorf("no answer to a ping in %v (the queue may be long or the link down)", timeout),
				"check the broker check above, the link in guichet status (queue depth, last error), and that the platform runs")
		}
		if res.Status != "applied" {
			return Failed(fmt.Errorf("the platform answered %s: %s", res.Status, res.Reason), "the platform refuses the device's records: call support with the device ID")
		}
		return Passed("answered in %d ms", time.Since(start).Milliseconds())
	}}
}
