package e2e

import (
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// An older signed configuration replayed on the broker is refused by the
// running daemon, which says why in `guichet status`, keeps the newer one
// and keeps taking payments; a restart applies nothing again.
func TestOlderConfigurationRefused(t *testing.T) {
	r := NewRig(t)
	r.StartPlatform()
	r.StartDaemon()
	r.Eventually(20*time.Second, "link up", func() bool { return r.Status().Link.Connected })

	// Someone on the broker keeps every configuration frame.
	frames := make(chan []byte, 10)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(r.Broker.URL()).SetClientID("keeper"))
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	config := "guichet/v1/shop-1/till-1/down/config"
	if tok := c.Subscribe(config, 1, func(_ mqtt.Client, m mqtt.Message) { frames <- m.Payload() }); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	push := func(args string) string {
		t.Helper()
		return r.Run("guichet-platform", "--config", r.PlatConf, "push", "--tenant", "shop-1", "--device", "till-1",
			"--name", "config", "--retain", "--args", args)
	}
	if out := push(`{"offline_limits":{"per_transaction":100000,"total":100000}}`); out != "applied version 1\n" {
		t.Fatalf("first configuration: %q", out)
	}
	var loose []byte
	select {
	case loose = <-frames:
	case <-time.After(10 * time.Second):
		t.Fatal("configuration frame not seen")
	}
	if out := push(`{"offline_limits":{"per_transaction":100,"total":100}}`); out != "applied version 2\n" {
		t.Fatalf("second configuration: %q", out)
	}

	// The looser, older configuration, retained again.
	if tok := c.Publish(config, 1, true, loose); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	status := func() string { return r.Run("guichet", "--config", r.DevConf, "status") }
	r.Eventually(20*time.Second, "the older configuration refused", func() bool {
		return strings.Contains(status(), "downlink refused old=1\n")
	})
	if s := status(); !strings.Contains(s, "downlink versions config=2\n") {
		t.Fatalf("status after the refusal:\n%s", s)
	}
	if p := r.Pay("12.34", goodCode); p.Status != "approved" {
		t.Fatalf("payment after the refusal: %+v", p)
	}

	// A restart: version 2 is still the one held, the replayed one is
	// refused again, nothing is applied again.
	r.StopDaemon()
	r.StartDaemon()
	r.Eventually(20*time.Second, "the older configuration refused after the restart", func() bool {
		return strings.Contains(status(), "downlink refused old=1\n")
	})
	if s := status(); !strings.Contains(s, "downlink versions config=2\n") {
		t.Fatalf("status after the restart:\n%s", s)
	}
	if log := r.Log("guichetd"); strings.Count(log, "command applied") != 2 {
		t.Fatalf("commands applied across both runs: %d, want 2 (the log keeps both runs)", strings.Count(log, "command applied"))
	}
}
