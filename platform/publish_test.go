package platform

import (
	"context"
	"crypto/ed25519"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/sync/envelope"
)

// subscribe connects a device-like client to url and returns the
// downlink messages it gets, already opened with the platform key.
func subscribe(t *testing.T, url, clientID string, platKey ed25519.PublicKey, topics envelope.Topics) <-chan *envelope.Command {
	t.Helper()
	got := make(chan *envelope.Command, 10)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(topics.Down(), 1, func(_ mqtt.Client, m mqtt.Message) {
		payload, err := envelope.Open(platKey, m.Payload())
		if err != nil {
			t.Errorf("%s: %v", m.Topic(), err)
			return
		}
		cmd, err := envelope.DecodeCommand(payload)
		if err != nil {
			t.Errorf("%s: %v", m.Topic(), err)
			return
		}
		got <- cmd
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return got
}

func receive(t *testing.T, got <-chan *envelope.Command) *envelope.Command {
	t.Helper()
	select {
	case c := <-got:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no command received")
		return nil
	}
}

func TestPublish(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	pub, key, _ := ed25519.GenerateKey(nil)
	cfg := PublishConfig{Brokers: []string{b.URL()}, Key: key}
	ctx := context.Background()
	topics := envelope.Topics{Tenant: "t1", Device: "d1"}
	cmd := envelope.Command{Tenant: "t1", Device: "d1", ID: NewCommandID(), Name: "offline_limits",
		Args: []byte(`{"per_transaction":100,"total":200}`), Version: 1, Expires: time.Now().Add(time.Hour).UnixMilli()}

	got := subscribe(t, b.URL(), "early", pub, topics)
	topic, err := Publish(ctx, cfg, cmd, false)
	if err != nil || topic != topics.Commands() {
		t.Fatalf("Publish: %q, %v", topic, err)
	}
	if c := receive(t, got); c.ID != cmd.ID || string(c.Args) != string(cmd.Args) {
		t.Fatalf("received %+v", c)
	}

	// Retained: a device that subscribes afterwards still gets it.
	cfgCmd := cmd
	cfgCmd.ID, cfgCmd.Name, cfgCmd.Args = NewCommandID(), "config", []byte(`{"offline_limits":{"per_transaction":1,"total":2}}`)
	if topic, err := Publish(ctx, cfg, cfgCmd, true); err != nil || topic != topics.Config() {
		t.Fatalf("Publish retained: %q, %v", topic, err)
	}
	if c := receive(t, got); c.ID != cfgCmd.ID {
		t.Fatalf("subscriber received %+v", c)
	}
	late := subscribe(t, b.URL(), "late", pub, topics)
	if c := receive(t, late); c.ID != cfgCmd.ID || c.Name != "config" {
		t.Fatalf("late subscriber received %+v", c)
	}

	// What the device would refuse is refused before connecting.
	bad := map[string]envelope.Command{
		"bad device":  {Tenant: "t1", Device: "a/b", ID: "x", Name: "sync", Version: 1, Expires: cmd.Expires},
		"no id":       {Tenant: "t1", Device: "d1", Name: "sync", Version: 1, Expires: cmd.Expires},
		"args":        {Tenant: "t1", Device: "d1", ID: "x", Name: "sync", Args: []byte(`{`), Version: 1, Expires: cmd.Expires},
		"expired":     {Tenant: "t1", Device: "d1", ID: "x", Name: "sync", Version: 1, Expires: time.Now().Add(-time.Second).UnixMilli()},
		"no version":  {Tenant: "t1", Device: "d1", ID: "x", Name: "sync", Expires: cmd.Expires},
		"no expiry":   {Tenant: "t1", Device: "d1", ID: "x", Name: "sync", Version: 1},
		"name spaces": {Tenant: "t1", Device: "d1", ID: "x", Name: "do it", Version: 1, Expires: cmd.Expires},
	}
	for what, c := range bad {
		if _, err := Publish(ctx, PublishConfig{Brokers: []string{"tcp://127.0.0.1:1"}, Key: key}, c, false); err == nil || strings.Contains(err.Error(), "connect") {
			t.Errorf("%s: %v, want refused before connecting", what, err)
		}
	}
	if _, err := Publish(ctx, PublishConfig{Brokers: []string{"tcp://127.0.0.1:" + strconv.Itoa(brokertest.FreePort(t))}, Key: key, Timeout: 5 * time.Second}, cmd, false); err == nil || !strings.Contains(err.Error(), "connect") {
		t.Errorf("no broker: %v", err)
	}
	select {
	case c := <-got:
		t.Fatalf("refused command delivered: %+v", c)
	default:
	}
}
