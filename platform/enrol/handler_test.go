package enrol

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/provision/claim"
)

const cid = "prov-0123456789abcdef0123456789abcdef"

// Hostile requests: each is answered with a refusal (or dropped when its
// topic names no client), nothing is recorded and the code survives.
func TestHandleRequestHostile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	code := e.code(t, "shop-1", "s", "till")
	b := newBox(t)
	good := func(mod func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(b.payload(t, code, "till-1"), &m)
		mod(m)
		p, _ := json.Marshal(m)
		return p
	}
	cases := []struct {
		name    string
		topic   string
		payload []byte
		// want is the reason's start; "" means dropped without an answer.
		want string
	}{
		{"empty", claim.RequestTopic(cid), nil, ReasonBadRequest},
		{"not JSON", claim.RequestTopic(cid), []byte("\x00\xff garbage"), ReasonBadRequest},
		{"JSON array", claim.RequestTopic(cid), []byte(`[1,2,3]`), ReasonBadRequest},
		{"huge", claim.RequestTopic(cid), []byte(`{"v":1,"code":"` + strings.Repeat("A", claim.MaxMessage) + `"}`), ReasonBadRequest},
		{"deep nesting", claim.RequestTopic(cid), []byte(strings.Repeat("[", 10000)), ReasonBadRequest},
		{"trailing data", claim.RequestTopic(cid), append(b.payload(t, code, "till-1"), []byte(`{}`)...), ReasonBadRequest},
		{"unknown field", claim.RequestTopic(cid), good(func(m map[string]any) { m["tenant"] = "shop-2" }), ReasonBadRequest},
		{"version 2", claim.RequestTopic(cid), good(func(m map[string]any) { m["v"] = 2 }), ReasonBadRequest},
		{"bad code", claim.RequestTopic(cid), good(func(m map[string]any) { m["code"] = "' OR 1=1 --" }), ReasonBadRequest},
		{"device with a slash", claim.RequestTopic(cid), good(func(m map[string]any) { m["device"] = "till-1/../x" }), ReasonBadRequest},
		{"device with a wildcard", claim.RequestTopic(cid), good(func(m map[string]any) { m["device"] = "#" }), ReasonBadRequest},
		{"csr garbage", claim.RequestTopic(cid), good(func(m map[string]any) { m["csr"] = "AAAA" }), ReasonBadRequest},
		{"short record key", claim.RequestTopic(cid), good(func(m map[string]any) { m["record_key"] = "AAAA" }), ReasonBadRequest},
		{"key kind", claim.RequestTopic(cid), good(func(m map[string]any) { m["key_kind"] = "hsm" }), ReasonBadRequest},
		{"response topic", claim.ResponseTopic(cid), b.payload(t, code, "till-1"), ""},
		{"client id not ours", "guichet/v1/provision/someone/req", b.payload(t, code, "till-1"), ""},
		{"client id with a level", "guichet/v1/provision/" + cid + "/x/req", b.payload(t, code, "till-1"), ""},
		{"records topic", "guichet/v1/shop-1/till-1/up/rec", b.payload(t, code, "till-1"), ""},
		{"empty topic", "", b.payload(t, code, "till-1"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topic, reply := e.svc.HandleRequest(ctx, tc.topic, tc.payload)
			if tc.want == "" {
				if topic != "" || reply != nil {
					t.Fatalf("answered %s: %s", topic, reply)
				}
				return
			}
			if topic != claim.ResponseTopic(cid) {
				t.Fatalf("answered on %q", topic)
			}
			_, err := claim.DecodeResponse(reply)
			var ref *claim.RefusedError
			if !errors.As(err, &ref) || !strings.HasPrefix(ref.Reason, tc.want) {
				t.Fatalf("answer %s: %v, want a refusal %q", reply, err, tc.want)
			}
			if strings.Contains(string(reply), string(code)) {
				t.Fatal("the answer repeats the code")
			}
		})
	}
	if l := list(t, e); len(l) != 0 {
		t.Fatalf("hostile requests recorded %+v", l)
	}
	// The code is still good after all that.
	topic, reply := e.svc.HandleRequest(ctx, claim.RequestTopic(cid), b.payload(t, code, "till-1"))
	if _, err := claim.DecodeResponse(reply); err != nil || topic != claim.ResponseTopic(cid) {
		t.Fatalf("the good request after the hostile ones: %v", err)
	}
	got := e.svc.Refused()
	if got[ReasonBadRequest] != 14 || got[ReasonBadTopic] != 5 {
		t.Fatalf("refusals counted %v", got)
	}
}

func TestHandleRenewalHostile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := newBox(t)
	if _, err := e.svc.Enrol(ctx, b.request(t, e.code(t, "shop-1", "s", "till"), "till-1")); err != nil {
		t.Fatal(err)
	}
	before := list(t, e)
	renewal := func(csr []byte) []byte { p, _ := claim.Encode(claim.Renewal{V: 1, CSR: csr}); return p }
	cases := []struct {
		name, topic string
		payload     []byte
		want        string
	}{
		{"garbage", claim.RenewTopic("shop-1", "till-1"), []byte("{{{"), ReasonBadRequest},
		{"empty", claim.RenewTopic("shop-1", "till-1"), nil, ReasonBadRequest},
		{"no csr", claim.RenewTopic("shop-1", "till-1"), []byte(`{"v":1}`), ReasonBadRequest},
		{"version 0", claim.RenewTopic("shop-1", "till-1"), []byte(`{"v":0,"csr":"AAAA"}`), ReasonBadRequest},
		{"another key", claim.RenewTopic("shop-1", "till-1"), renewal(newBox(t).csr(t)), ReasonKeyDiffers},
		{"unknown device", claim.RenewTopic("shop-1", "till-2"), renewal(b.csr(t)), ReasonNotEnrolled},
		{"records topic", "guichet/v1/shop-1/till-1/up/rec", renewal(b.csr(t)), ""},
		{"down topic", claim.CertTopic("shop-1", "till-1"), renewal(b.csr(t)), ""},
		{"bad tenant", "guichet/v1/sh op/till-1/up/renew", renewal(b.csr(t)), ""},
		{"outside the root", "other/shop-1/till-1/up/renew", renewal(b.csr(t)), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topic, reply := e.svc.HandleRenewal(ctx, tc.topic, tc.payload)
			if tc.want == "" {
				if topic != "" {
					t.Fatalf("answered on %s", topic)
				}
				return
			}
			_, err := claim.DecodeIssued(reply)
			var ref *claim.RefusedError
			if !errors.As(err, &ref) || !strings.HasPrefix(ref.Reason, tc.want) || !strings.HasSuffix(topic, "/down/cert") {
				t.Fatalf("answer on %s %s: %v, want %q", topic, reply, err, tc.want)
			}
		})
	}
	if after := list(t, e); !reflect.DeepEqual(before, after) {
		t.Fatalf("hostile renewals changed the registry: %+v", after)
	}
}

func FuzzHandleRequest(f *testing.F) {
	f.Add(claim.RequestTopic(cid), []byte(`{"v":1,"code":"0000-0000-0000-0000","device":"d","csr":"AAAA","record_key":"AAAA","key_kind":"file"}`))
	f.Add("guichet/v1/shop/till/up/renew", []byte(`{"v":1,"csr":"AAAA"}`))
	f.Add("", []byte(nil))
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		// Neither panics; an answer is always a well-formed refusal,
		// as no code exists.
		if tp, reply := e.svc.HandleRequest(context.Background(), topic, payload); tp != "" {
			if _, err := claim.DecodeResponse(reply); err == nil {
				t.Fatalf("accepted %q", payload)
			}
		}
		if tp, reply := e.svc.HandleRenewal(context.Background(), topic, payload); tp != "" {
			if _, err := claim.DecodeIssued(reply); err == nil {
				t.Fatalf("renewed %q", payload)
			}
		}
	})
}

// The whole exchange over a real Mosquitto: the platform's server serves
// the enrolment handlers beside the records; a blank box sends its request
// on its provisioning topic and reads the answer beside it, then renews
// on its own topics.
func TestEnrolOverMQTT(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	e := newEnv(t)
	e.now = time.Now()
	_, platKey, _ := ed25519.GenerateKey(nil)
	srv := platform.NewServer(platform.ServerConfig{Instance: "enrol-test", Brokers: []string{b.URL()}, Key: platKey,
		Logger: e.svc.log, Handlers: e.svc.Handlers()}, e.store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	clientID, err := claim.NewClientID()
	if err != nil {
		t.Fatal(err)
	}
	answers := make(chan mqtt.Message, 4)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID(clientID).SetConnectRetry(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	for _, f := range []string{claim.ResponseTopic(clientID), claim.CertTopic("shop-1", "till-1")} {
		if tok := c.Subscribe(f, 1, func(_ mqtt.Client, m mqtt.Message) { answers <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe: %v", tok.Error())
		}
	}
	ask := func(topic string, payload []byte) mqtt.Message {
		t.Helper()
		// The server subscribes once connected: ask until it answers.
		for i := 0; i < 100; i++ {
			c.Publish(topic, 1, false, payload).Wait()
			select {
			case m := <-answers:
				return m
			case <-time.After(200 * time.Millisecond):
			}
		}
		t.Fatal("no answer from the platform")
		return nil
	}
	box := newBox(t)
	// A refusal first: a code this platform never made.
	unknown, _ := claim.NewCode()
	m := ask(claim.RequestTopic(clientID), box.payload(t, unknown, "till-1"))
	var ref *claim.RefusedError
	if _, err := claim.DecodeResponse(m.Payload()); !errors.As(err, &ref) || ref.Reason != ReasonUnknownCode {
		t.Fatalf("unknown code over MQTT: %v", err)
	}
	code := e.code(t, "shop-1", "s", "till")
	m = ask(claim.RequestTopic(clientID), box.payload(t, code, "till-1"))
	resp, err := claim.DecodeResponse(m.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic() != claim.ResponseTopic(clientID) || resp.Device != "till-1" || !e.plat.Equal(ed25519.PublicKey(resp.PlatformKey)) {
		t.Fatalf("answer on %s: device %s, platform key %x", m.Topic(), resp.Device, resp.PlatformKey)
	}
	verify(t, e, resp.Cert, box, "shop-1/till-1")

	renewal, _ := claim.Encode(claim.Renewal{V: 1, CSR: box.csr(t)})
	m = ask(claim.RenewTopic("shop-1", "till-1"), renewal)
	iss, err := claim.DecodeIssued(m.Payload())
	if err != nil || m.Topic() != claim.CertTopic("shop-1", "till-1") {
		t.Fatalf("renewal on %s: %v", m.Topic(), err)
	}
	verify(t, e, iss.Cert, box, "shop-1/till-1")
	if got := e.svc.Refused(); got[ReasonUnknownCode] != 1 {
		t.Fatalf("refusals counted %v", got)
	}
}
