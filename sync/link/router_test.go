package link_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

// Results go to the handler of the answered record's type, whatever its
// key looks like.
func TestResultsRoutedByRecordType(t *testing.T) {
	r := newRig(t)
	var mu sync.Mutex
	got := map[string][]string{}
	for _, typ := range []string{"kind.a", "kind.b"} {
		r.router.HandleResults(func(res envelope.Result) {
			mu.Lock()
			got[typ] = append(got[typ], res.Key)
			mu.Unlock()
		}, typ)
	}
	ctx := context.Background()
	// Keys that a prefix filter would send to the wrong flow.
	for _, rec := range []outbox.Record{
		{Key: "b-1", Type: "kind.a", Body: []byte(`{}`)},
		{Key: "a-1", Type: "kind.b", Body: []byte(`{}`)},
		{Key: "x-1", Type: "kind.c", Body: []byte(`{}`)}, // nobody's
		{Key: "b-2", Type: "kind.a", Body: []byte(`{}`)},
	} {
		if _, err := r.ob.Append(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	// The platform starts after the link sent the records once: the
	// types must survive the resend.
	r.runLink(t)
	stop := r.runPlatform(t, "p1")
	defer stop()
	r.waitDrained(t, 4)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got["kind.a"]) + len(got["kind.b"])
		mu.Unlock()
		if n == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got["kind.a"]) != 2 || got["kind.a"][0] != "b-1" || got["kind.a"][1] != "b-2" || len(got["kind.b"]) != 1 || got["kind.b"][0] != "a-1" {
		t.Fatalf("routed %v", got)
	}
}

// A command goes to every handler of its name; one nobody handles is
// refused and counted; "sync" is the link's own.
func TestCommandsRoutedByName(t *testing.T) {
	r := newRig(t)
	var mu sync.Mutex
	var calls []string
	handler := func(tag string) func(context.Context, *envelope.Command) error {
		return func(_ context.Context, cmd *envelope.Command) error {
			mu.Lock()
			calls = append(calls, tag+":"+cmd.Name+":"+string(cmd.Args))
			mu.Unlock()
			return nil
		}
	}
	r.router.HandleCommands(handler("one"), "limits", "config")
	r.router.HandleCommands(handler("two"), "config")
	srv := platform.NewServer(platform.ServerConfig{Instance: "p1", Brokers: []string{r.broker.URL()}, Key: r.platKey, BatchMax: 100}, r.store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	r.runLink(t)
	deadline := time.Now().Add(10 * time.Second)
	for !r.lk.Status().Connected && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	send := func(id, name string) {
		t.Helper()
		for {
			err := srv.SendCommand(ctx, envelope.Command{Tenant: "t1", Device: "d1", ID: id, Name: name, Args: []byte(`{"n":1}`)})
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	refused := r.lk.Status().Refused
	send("c1", "limits")
	send("c2", "config")
	send("c3", "nobody")
	send("c4", "sync")
	want := []string{`one:limits:{"n":1}`, `one:config:{"n":1}`, `two:config:{"n":1}`}
	for {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if (n >= len(want) && r.lk.Status().Refused > refused) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // let a wrong extra call show
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != len(want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Fatalf("calls %v, want %v", calls, want)
		}
	}
	if got := r.lk.Status().Refused - refused; got != 1 {
		t.Fatalf("%d commands refused, want 1 (the one nobody handles)", got)
	}
}

// An unsigned message on a raw route goes to its handler as it is; the
// same bytes on another down/ topic are refused, as anything unsigned is.
// Publish sends on the link's session and fails between sessions.
func TestRawRouteAndPublish(t *testing.T) {
	r := newRig(t)
	raw := make(chan string, 4)
	r.router.HandleRaw("guichet/v1/t1/d1/down/cert", func(p []byte) { raw <- string(p) })
	if err := r.lk.Publish(context.Background(), "guichet/v1/t1/d1/up/renew", []byte("x")); !errors.Is(err, link.ErrNotConnected) {
		t.Fatalf("publish before the session: %v", err)
	}
	up := make(chan string, 4)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(r.broker.URL()).SetClientID("peer"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	c.Subscribe("guichet/v1/t1/d1/up/renew", 1, func(_ mqtt.Client, m mqtt.Message) { up <- string(m.Payload()) }).Wait()
	r.runLink(t)
	deadline := time.Now().Add(10 * time.Second)
	for !r.lk.Status().Connected && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.lk.Publish(context.Background(), "guichet/v1/t1/d1/up/renew", []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-up:
		if got != `{"v":1}` {
			t.Fatalf("published %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Publish did not reach the broker")
	}
	refused := r.lk.Status().Refused
	c.Publish("guichet/v1/t1/d1/down/cmd", 1, false, `{"v":1,"cert":"unsigned"}`).Wait()
	c.Publish("guichet/v1/t1/d1/down/cert", 1, false, `{"v":1,"cert":"unsigned"}`).Wait()
	select {
	case got := <-raw:
		if got != `{"v":1,"cert":"unsigned"}` {
			t.Fatalf("raw handler got %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("raw route not taken")
	}
	if n := r.lk.Status().Refused; n != refused+1 || len(raw) != 0 {
		t.Fatalf("refused %d (was %d), %d more on the raw route", n, refused, len(raw))
	}
}
