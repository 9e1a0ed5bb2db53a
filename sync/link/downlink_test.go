package link_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

// box is a device for the downlink tests: an outbox and a link that can be
// stopped and started again on the same files, as a restart does, and a
// flow that records the commands it applies.
type box struct {
	t       *testing.T
	url     string
	dir     string
	platKey ed25519.PrivateKey
	devKey  ed25519.PrivateKey

	mu      sync.Mutex
	applied []string // "name:args" of each command a flow applied

	ob   *outbox.Store
	lk   *link.Link
	stop func()
}

func newBox(t *testing.T, url string) *box {
	b := &box{t: t, url: url, dir: t.TempDir()}
	_, b.platKey, _ = ed25519.GenerateKey(nil)
	_, b.devKey, _ = ed25519.GenerateKey(nil)
	return b
}

// start opens the outbox and runs a link on it.
func (b *box) start() {
	t := b.t
	t.Helper()
	var err error
	b.ob, err = outbox.Open(filepath.Join(b.dir, "outbox.db"), outbox.Identity{Tenant: "t1", Device: "d1", Key: b.devKey})
	if err != nil {
		t.Fatal(err)
	}
	rt := link.NewRouter()
	rt.HandleCommands(func(_ context.Context, cmd *envelope.Command) error {
		if string(cmd.Args) == `{"bad":true}` {
			return errors.New("flow: bad args")
		}
		b.mu.Lock()
		b.applied = append(b.applied, cmd.Name+":"+string(cmd.Args))
		b.mu.Unlock()
		return nil
	}, "limits", "config")
	b.lk, err = link.New(link.Config{Tenant: "t1", Device: "d1", Brokers: []string{b.url},
		PlatformKey: b.platKey.Public().(ed25519.PublicKey), MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Router: rt}, b.ob)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); b.lk.Run(ctx) }()
	b.stop = func() { cancel(); wg.Wait(); b.ob.Close(); b.stop = nil }
	t.Cleanup(func() {
		if b.stop != nil {
			b.stop()
		}
	})
	waitFor(t, "link connected", func() bool { return b.lk.Status().Connected })
}

func (b *box) appliedNow() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.applied...)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wire is the test's own MQTT client: it publishes frames straight to the
// device's topics, as the platform or an intruder on the broker would,
// and reads the device's Applied reports, checking the device's signature.
type wire struct {
	t       *testing.T
	c       mqtt.Client
	reports chan *envelope.Applied
}

func newWire(t *testing.T, url string, devKey ed25519.PublicKey) *wire {
	w := &wire{t: t, reports: make(chan *envelope.Applied, 100)}
	w.c = mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("wire"))
	if tok := w.c.Connect(); tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { w.c.Disconnect(100) })
	topic := envelope.Topics{Tenant: "t1", Device: "d1"}.Applied()
	tok := w.c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		payload, err := envelope.Open(devKey, m.Payload())
		if err != nil {
			t.Errorf("report not signed by the device: %v", err)
			return
		}
		a, err := envelope.DecodeApplied(payload)
		if err != nil {
			t.Errorf("report: %v", err)
			return
		}
		w.reports <- a
	})
	if tok.Wait() && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	return w
}

func cmdFrame(key ed25519.PrivateKey, c envelope.Command) []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return envelope.Seal(key, b)
}

func (w *wire) publish(topic string, retain bool, frame []byte) {
	w.t.Helper()
	if tok := w.c.Publish(topic, 1, retain, frame); tok.Wait() && tok.Error() != nil {
		w.t.Fatal(tok.Error())
	}
}

// report waits for the device's next report and checks it is about id.
func (w *wire) report(id string) *envelope.Applied {
	w.t.Helper()
	select {
	case a := <-w.reports:
		if a.ID != id {
			w.t.Fatalf("report about %q, want one about %q: %+v", a.ID, id, a)
		}
		return a
	case <-time.After(15 * time.Second):
		w.t.Fatalf("no report about %q", id)
		return nil
	}
}

func soon() int64 { return time.Now().Add(time.Hour).UnixMilli() }

// Every way a downlink message can be refused, each counted under its
// reason and reported upstream, while the flow sees only what is new,
// signed, addressed to it and in date.
func TestDownlinkRefusals(t *testing.T) {
	mq := brokertest.StartMosquitto(t)
	b := newBox(t, mq.URL())
	b.start()
	w := newWire(t, mq.URL(), b.devKey.Public().(ed25519.PublicKey))
	cmds := envelope.Topics{Tenant: "t1", Device: "d1"}.Commands()
	limits := func(id string, v uint64, args string) envelope.Command {
		return envelope.Command{Tenant: "t1", Device: "d1", ID: id, Name: "limits", Args: []byte(args), Version: v, Expires: soon()}
	}
	expect := func(id, status, reason string, current uint64) {
		t.Helper()
		a := w.report(id)
		if a.Status != status || a.Reason != reason || a.Current != current {
			t.Fatalf("report %+v, want %s %q at current %d", a, status, reason, current)
		}
	}

	v1 := cmdFrame(b.platKey, limits("c1", 1, `{"n":1}`))
	w.publish(cmds, false, v1)
	expect("c1", envelope.StatusApplied, "", 1)

	// The same signed frame again: a replay.
	w.publish(cmds, false, v1)
	expect("c1", envelope.StatusRefused, envelope.ReasonReplayed, 1)

	w.publish(cmds, false, cmdFrame(b.platKey, limits("c3", 3, `{"n":3}`)))
	expect("c3", envelope.StatusApplied, "", 3)
	// An older one, never delivered before, after a newer one.
	w.publish(cmds, false, cmdFrame(b.platKey, limits("c2", 2, `{"n":2}`)))
	expect("c2", envelope.StatusRefused, envelope.ReasonOld, 3)

	expired := limits("c4", 4, `{"n":4}`)
	expired.Expires = time.Now().Add(-time.Minute).UnixMilli()
	w.publish(cmds, false, cmdFrame(b.platKey, expired))
	expect("c4", envelope.StatusRefused, envelope.ReasonExpired, 3)

	_, otherKey, _ := ed25519.GenerateKey(nil)
	w.publish(cmds, false, cmdFrame(otherKey, limits("c5", 5, `{"n":5}`)))
	expect("c5", envelope.StatusRefused, envelope.ReasonForged, 3)

	// Another device's command, properly signed, published to this one.
	foreign := limits("c6", 6, `{"n":6}`)
	foreign.Device = "d2"
	w.publish(cmds, false, cmdFrame(b.platKey, foreign))
	expect("c6", envelope.StatusRefused, envelope.ReasonForeign, 3)

	// Signed, but from a platform that does not version its commands.
	w.publish(cmds, false, envelope.Seal(b.platKey, []byte(`{"tenant":"t1","device":"d1","id":"c7","name":"limits","not_after":1}`)))
	expect("c7", envelope.StatusRefused, envelope.ReasonMalformed, 3)

	nobody := limits("c8", 8, `{}`)
	nobody.Name = "nobody"
	w.publish(cmds, false, cmdFrame(b.platKey, nobody))
	expect("c8", envelope.StatusRefused, envelope.ReasonUnhandled, 0)

	// A flow refuses the args: the version is spent, the flow keeps its state.
	w.publish(cmds, false, cmdFrame(b.platKey, limits("c9", 9, `{"bad":true}`)))
	expect("c9", envelope.StatusRefused, envelope.ReasonFailed, 9)

	// Garbage counts too, with nothing to report.
	w.publish(cmds, false, []byte("not a frame"))
	w.publish(cmds, false, cmdFrame(b.platKey, limits("c10", 10, `{"n":10}`)))
	expect("c10", envelope.StatusApplied, "", 10)

	if got, want := b.appliedNow(), []string{`limits:{"n":1}`, `limits:{"n":3}`, `limits:{"n":10}`}; !equal(got, want) {
		t.Fatalf("flow applied %v, want %v", got, want)
	}
	st := b.lk.Status()
	want := map[string]uint64{envelope.ReasonReplayed: 1, envelope.ReasonOld: 1, envelope.ReasonExpired: 1, envelope.ReasonForged: 1,
		envelope.ReasonForeign: 1, envelope.ReasonMalformed: 2, envelope.ReasonUnhandled: 1, envelope.ReasonFailed: 1}
	if !maps.Equal(st.Refusals, want) {
		t.Errorf("refusals %v, want %v", st.Refusals, want)
	}
	if st.Refused != 9 {
		t.Errorf("refused %d, want 9", st.Refused)
	}
	if st.Versions["cmd.limits"] != 10 {
		t.Errorf("versions %v", st.Versions)
	}
	// Status is what `guichet status` prints: the reasons show in its JSON.
	js, _ := json.Marshal(st)
	var back struct {
		Refusals map[string]uint64 `json:"refusals"`
		Versions map[string]uint64 `json:"versions"`
	}
	if err := json.Unmarshal(js, &back); err != nil || back.Refusals[envelope.ReasonForged] != 1 || back.Versions["cmd.limits"] != 10 {
		t.Errorf("status JSON %s", js)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A restart reopens nothing: the retained configuration the broker hands
// again is not applied again, and an older configuration retained in its
// place is refused, the device keeping the last good one.
func TestDownlinkRestartReopensNothing(t *testing.T) {
	mq := brokertest.StartMosquitto(t)
	b := newBox(t, mq.URL())
	w := newWire(t, mq.URL(), b.devKey.Public().(ed25519.PublicKey))
	topics := envelope.Topics{Tenant: "t1", Device: "d1"}
	config := func(id string, v uint64, args string) envelope.Command {
		return envelope.Command{Tenant: "t1", Device: "d1", ID: id, Name: "config", Args: []byte(args), Version: v, Expires: soon()}
	}
	oldConfig := cmdFrame(b.platKey, config("cfg1", 1, `{"limit":1000}`))
	w.publish(topics.Config(), true, oldConfig)
	b.start()
	w.report("cfg1")
	w.publish(topics.Config(), true, cmdFrame(b.platKey, config("cfg2", 2, `{"limit":10}`)))
	w.report("cfg2")
	if got, want := b.appliedNow(), []string{`config:{"limit":1000}`, `config:{"limit":10}`}; !equal(got, want) {
		t.Fatalf("applied %v, want %v", got, want)
	}

	// A marker command after each restart: once its report is in, the
	// retained configuration, delivered at subscription, was handled.
	marker := func(id string, v uint64) {
		t.Helper()
		w.publish(topics.Commands(), false, cmdFrame(b.platKey, envelope.Command{Tenant: "t1", Device: "d1", ID: id, Name: "limits",
			Args: []byte(`{}`), Version: v, Expires: soon()}))
		if a := w.report(id); a.Status != envelope.StatusApplied {
			t.Fatalf("marker %+v", a)
		}
	}
	for i := range 2 {
		b.stop()
		b.mu.Lock()
		b.applied = nil
		b.mu.Unlock()
		b.start()
		if v := b.lk.Status().Versions; v["config"] != 2 {
			t.Fatalf("restart %d: versions %v, want config at 2 from the outbox", i, v)
		}
		marker(fmt.Sprintf("m%d", i), uint64(i+1))
		if got, want := b.appliedNow(), []string{`limits:{}`}; !equal(got, want) {
			t.Fatalf("restart %d: applied %v, want only the marker", i, got)
		}
		if st := b.lk.Status(); st.Refused != 0 {
			t.Fatalf("restart %d: the retained configuration counted as refused: %+v", i, st)
		}
	}

	// The old configuration retained again (someone kept its frame): refused.
	w.publish(topics.Config(), true, oldConfig)
	if a := w.report("cfg1"); a.Status != envelope.StatusRefused || a.Reason != envelope.ReasonOld || a.Current != 2 {
		t.Fatalf("old configuration: %+v", a)
	}
	// And again after a restart, still refused, the device on version 2.
	b.stop()
	b.start()
	if a := w.report("cfg1"); a.Status != envelope.StatusRefused || a.Reason != envelope.ReasonOld {
		t.Fatalf("old configuration after restart: %+v", a)
	}
	if got := b.appliedNow(); len(got) != 1 {
		t.Fatalf("applied %v after the old configuration", got)
	}
	if st := b.lk.Status(); st.Versions["config"] != 2 || st.Refusals[envelope.ReasonOld] != 1 {
		t.Fatalf("status %+v", st)
	}
}

// A damaged versions setting stops the commands (fails closed) instead of
// starting again from zero, which would let an old configuration in.
func TestDownlinkDamagedVersionsFailClosed(t *testing.T) {
	mq := brokertest.StartMosquitto(t)
	b := newBox(t, mq.URL())
	w := newWire(t, mq.URL(), b.devKey.Public().(ed25519.PublicKey))
	ob, err := outbox.Open(filepath.Join(b.dir, "outbox.db"), outbox.Identity{Tenant: "t1", Device: "d1", Key: b.devKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := ob.PutSetting(context.Background(), link.VersionsKey, []byte(`{"config":`)); err != nil {
		t.Fatal(err)
	}
	ob.Close()
	b.start()
	if st := b.lk.Status(); st.DownlinkError == "" {
		t.Fatalf("no downlink error in %+v", st)
	}
	topics := envelope.Topics{Tenant: "t1", Device: "d1"}
	w.publish(topics.Commands(), false, cmdFrame(b.platKey, envelope.Command{Tenant: "t1", Device: "d1", ID: "x", Name: "limits",
		Args: []byte(`{}`), Version: 1, Expires: soon()}))
	if a := w.report("x"); a.Status != envelope.StatusRefused || a.Reason != envelope.ReasonStore {
		t.Fatalf("with the setting damaged: %+v", a)
	}
	// Repair by hand, as the error says; the next command goes through.
	if err := b.ob.PutSetting(context.Background(), link.VersionsKey, []byte(`{"cmd.limits":4}`)); err != nil {
		t.Fatal(err)
	}
	w.publish(topics.Commands(), false, cmdFrame(b.platKey, envelope.Command{Tenant: "t1", Device: "d1", ID: "y", Name: "limits",
		Args: []byte(`{}`), Version: 5, Expires: soon()}))
	if a := w.report("y"); a.Status != envelope.StatusApplied {
		t.Fatalf("after repair: %+v", a)
	}
	if got := b.appliedNow(); len(got) != 1 {
		t.Fatalf("applied %v: the command sent while the setting was damaged went through", got)
	}
}
