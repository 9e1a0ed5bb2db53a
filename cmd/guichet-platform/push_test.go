package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

// platformConf writes a platform configuration for broker url, creates
// the platform key (through `pubkey`, as an operator would) and returns
// the configuration's path and the public key.
func platformConf(t *testing.T, url string) (string, ed25519.PublicKey) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "platform.yaml")
	conf := fmt.Sprintf("store: %[1]s/platform.db\nkey_file: %[1]s/platform.key\nbroker: {urls: [%q]}\n", dir, url)
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errb, code := runCmd("--config", p, "pubkey")
	if code != 0 {
		t.Fatalf("pubkey: exit %d: %s", code, errb)
	}
	pub, err := keys.ParsePublic(out)
	if err != nil {
		t.Fatal(err)
	}
	return p, pub
}

func runCmd(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// device is the appliance's side: an outbox, a link checking the
// platform's signature, and the checkout flow applying the commands.
type device struct {
	s   *checkout.Service
	lk  *link.Link
	key ed25519.PublicKey
}

// startDevice starts a device and enrols it with the platform of conf, so
// that push can check its reports.
func startDevice(t *testing.T, conf, url string, platKey ed25519.PublicKey, tenant, id string) *device {
	t.Helper()
	_, devKey, _ := ed25519.GenerateKey(nil)
	if _, errb, code := runCmd("--config", conf, "enrol", "--tenant", tenant, "--device", id,
		"--key", keys.EncodePublic(devKey.Public().(ed25519.PublicKey))); code != 0 {
		t.Fatalf("enrol: exit %d: %s", code, errb)
	}
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Identity{Tenant: tenant, Device: id, Key: devKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	quiet := slog.New(slog.DiscardHandler)
	d := &device{key: devKey.Public().(ed25519.PublicKey), s: &checkout.Service{Store: ob, Currency: "CNY", Log: quiet,
		WaitOnline: 5 * time.Second, OfflinePerTransaction: 100, OfflineTotal: 100}}
	rt := link.NewRouter()
	rt.HandleResults(d.s.OnResult, checkout.ResultTypes...)
	rt.HandleResults(d.s.OnQRResult, checkout.QRResultTypes...)
	rt.HandleCommands(d.s.ApplyCommand, checkout.Commands...)
	d.lk, err = link.New(link.Config{Tenant: tenant, Device: id, Brokers: []string{url}, PlatformKey: platKey,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, AckTimeout: time.Second, Logger: quiet,
		Router: rt}, ob)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.lk.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	eventually(t, "device connected", func() bool { return d.lk.Status().Connected })
	return d
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pushOK runs push --json and checks it succeeded: applied by the device,
// or only published with --wait=false.
func pushOK(t *testing.T, args ...string) pushResult {
	t.Helper()
	out, errb, code := runCmd(append(args, "--json")...)
	if code != 0 {
		t.Fatalf("push %v: exit %d: %s", args, code, errb)
	}
	var r pushResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.ID == "" || r.Version == 0 {
		t.Fatalf("push printed %q: %v", out, err)
	}
	if r.Status != "applied" && !slices.Contains(args, "--wait=false") {
		t.Fatalf("push %v: %+v", args, r)
	}
	return r
}

func TestPushReachesTheDevice(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	conf, pub := platformConf(t, b.URL())
	d := startDevice(t, conf, b.URL(), pub, "shop-1", "till-1")
	ctx := context.Background()
	topics := envelope.Topics{Tenant: "shop-1", Device: "till-1"}

	r := pushOK(t, "--config", conf, "push", "--tenant", "shop-1", "--device", "till-1",
		"--name", "offline_limits", "--args", `{"per_transaction": 20000, "total": 100000}`)
	if r.Topic != topics.Commands() {
		t.Errorf("topic %q, want %q", r.Topic, topics.Commands())
	}
	want := checkout.OfflineLimits{PerTransaction: 20000, Total: 100000}
	eventually(t, "offline limits applied", func() bool { return d.s.Limits(ctx) == want })

	promos := filepath.Join(t.TempDir(), "promotions.json")
	os.WriteFile(promos, []byte(`{
  "promotions": [
    {"id": "wx-nov", "scheme": "wechat_pay", "percent_off": 10, "max_off": 2000,
     "from": "2026-11-01T00:00:00+08:00", "until": "2026-12-01T00:00:00+08:00", "label": "WeChat Pay -10%"}
  ]
}
`), 0o600)
	r2 := pushOK(t, "--config", conf, "push", "--tenant", "shop-1", "--device", "till-1", "--name", "promotions", "--args-file", promos, "--ttl", "1h")
	if r2.ID == r.ID {
		t.Fatalf("two pushes share the id %q", r.ID)
	}
	eventually(t, "promotions applied", func() bool {
		ps := d.s.Promotions(ctx)
		return len(ps) == 1 && ps[0].ID == "wx-nov" && ps[0].MaxOff == 2000
	})
	if d.s.Limits(ctx) != want {
		t.Errorf("promotions changed the limits: %+v", d.s.Limits(ctx))
	}

	// A push for another device does not reach this one (which is not
	// running: no waiting).
	pushOK(t, "--config", conf, "push", "--tenant", "shop-1", "--device", "till-2", "--name", "offline_limits", "--args", `{"per_transaction":1,"total":1}`, "--wait=false")
	pushOK(t, "--config", conf, "push", "--tenant", "shop-1", "--device", "till-1", "--name", "sync")
	time.Sleep(300 * time.Millisecond)
	if d.s.Limits(ctx) != want {
		t.Errorf("another device's command applied here: %+v", d.s.Limits(ctx))
	}
	if st := d.lk.Status(); st.Refused != 0 {
		t.Errorf("device refused %d downlink messages", st.Refused)
	}
}

func TestPushRetainedReachesALateDevice(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	conf, pub := platformConf(t, b.URL())
	ctx := context.Background()
	topics := envelope.Topics{Tenant: "default", Device: "till-9"}

	// An older retained configuration, then the one that counts: a device
	// that connects later gets only the last.
	// The device is not there yet: no waiting.
	pushOK(t, "--config", conf, "push", "--device", "till-9", "--name", "config", "--retain",
		"--args", `{"offline_limits":{"per_transaction":1,"total":1}}`, "--wait=false")
	r := pushOK(t, "--config", conf, "push", "--device", "till-9", "--name", "config", "--retain",
		"--args", `{"offline_limits":{"per_transaction":300,"total":900},"revoked":["x"]}`, "--wait=false")
	if r.Version != 2 || r.Stream != "config" || r.Status != "published" {
		t.Errorf("second configuration %+v, want version 2 of stream config, published", r)
	}
	if r.Topic != topics.Config() {
		t.Errorf("topic %q, want %q", r.Topic, topics.Config())
	}

	// A bare subscriber, connected after the push, checking the frame itself.
	got := make(chan []byte, 4)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("late-subscriber"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	c.Subscribe(topics.Down(), 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Payload() }).Wait()
	select {
	case frame := <-got:
		payload, err := envelope.Open(pub, frame)
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := envelope.DecodeCommand(payload)
		if err != nil || cmd.ID != r.ID || cmd.Name != "config" || cmd.Device != "till-9" || cmd.Tenant != "default" || cmd.Version != 2 {
			t.Fatalf("retained command %+v, %v", cmd, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no retained configuration for a late subscriber")
	}

	// And the appliance applies it.
	d := startDevice(t, conf, b.URL(), pub, "default", "till-9")
	want := checkout.OfflineLimits{PerTransaction: 300, Total: 900}
	eventually(t, "retained limits applied", func() bool { return d.s.Limits(ctx) == want })
}

func TestPushRefusesBadInvocations(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	conf, pub := platformConf(t, b.URL())
	// Anything published under the root would be a refused push that
	// got through.
	got := make(chan *envelope.Command, 100)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("watcher"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	c.Subscribe(envelope.Root+"/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		payload, _ := envelope.Open(pub, m.Payload())
		cmd, _ := envelope.DecodeCommand(payload)
		got <- cmd
	}).Wait()

	big := filepath.Join(t.TempDir(), "big.json")
	os.WriteFile(big, []byte(`{"x":"`+strings.Repeat("a", checkout.MaxArgs)+`"}`), 0o600)
	huge := filepath.Join(t.TempDir(), "huge.json")
	os.WriteFile(huge, []byte(`{"x":"`+strings.Repeat("a", 10*checkout.MaxArgs)+`"}`), 0o600)
	base := []string{"--config", conf, "push", "--device", "till-1"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no device", []string{"--config", conf, "push", "--name", "sync"}, "--device and --name are required"},
		{"no name", base, "--device and --name are required"},
		{"not JSON", append(base, "--name", "offline_limits", "--args", `{per_transaction: 1}`), "--args: not JSON"},
		{"truncated JSON", append(base, "--name", "x", "--args", `{"a":`), "--args: not JSON"},
		{"two values", append(base, "--name", "x", "--args", `{} {}`), "--args: not JSON"},
		{"not an object", append(base, "--name", "x", "--args", `[1,2]`), "want a JSON object"},
		{"too big", append(base, "--name", "x", "--args-file", big), "at most 65536"},
		{"huge file", append(base, "--name", "x", "--args-file", huge), "larger than"},
		{"missing file", append(base, "--name", "x", "--args-file", "/nonexistent/args.json"), "--args-file"},
		{"both args", append(base, "--name", "x", "--args", `{}`, "--args-file", big), "not both"},
		{"limits need args", append(base, "--name", "offline_limits"), "needs args"},
		{"limits inverted", append(base, "--name", "offline_limits", "--args", `{"per_transaction":500,"total":100}`), "per_transaction"},
		{"limits typo", append(base, "--name", "offline_limits", "--args", `{"per_transation":5,"total":100}`), "unknown field"},
		{"bad promotion", append(base, "--name", "promotions", "--args", `{"promotions":[{"id":"a","percent_off":500}]}`), "percent_off"},
		{"bad config limits", append(base, "--name", "config", "--args", `{"offline_limits":{"total":-1}}`), "offline_limits"},
		{"retain not config", append(base, "--name", "offline_limits", "--retain", "--args", `{"per_transaction":1,"total":1}`), "--name config"},
		{"bad device", []string{"--config", conf, "push", "--device", "till/1", "--name", "sync"}, "--device"},
		{"bad name", append(base, "--name", "do it"), "--name"},
		{"zero ttl", append(base, "--name", "sync", "--ttl", "0s"), "--ttl"},
		{"long expiry", append(base, "--name", "sync", "--expires", "2400h"), "--expires"},
		{"short wait", append(base, "--name", "sync", "--wait-timeout", "1ms"), "--wait-timeout"},
		{"long ttl", append(base, "--name", "sync", "--ttl", "100000h"), "--ttl"},
		{"bad ttl", append(base, "--name", "sync", "--ttl", "soon"), "ttl"},
		{"stray argument", append(base, "--name", "sync", "extra"), "unexpected argument"},
		{"skip needs args", append(base, "--name", "skip_rejected"), "needs args"},
		{"skip seq zero", append(base, "--name", "skip_rejected", "--args", `{"seq":0,"reason":"r"}`), "seq must be"},
		{"skip no reason", append(base, "--name", "skip_rejected", "--args", `{"seq":3}`), "reason must be"},
		{"skip typo", append(base, "--name", "skip_rejected", "--args", `{"sequence":3,"reason":"r"}`), "unknown field"},
		{"skip bad outbox", append(base, "--name", "skip_rejected", "--args", `{"outbox":"XYZ","seq":3,"reason":"r"}`), "outbox id"},
		{"skip nothing blocked", append(base, "--name", "skip_rejected", "--args", `{"seq":3,"reason":"r"}`), "no rejected record blocks"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errb, code := runCmd(tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, errb)
			}
			if out != "" {
				t.Errorf("printed %q", out)
			}
			if !strings.Contains(errb, tc.want) {
				t.Errorf("stderr %q, want it to name %q", errb, tc.want)
			}
		})
	}

	// No key yet: refused, not made up (exit 1: a failure, not a typo).
	noKey := filepath.Join(t.TempDir(), "platform.yaml")
	os.WriteFile(noKey, []byte(fmt.Sprintf("store: %[1]s/p.db\nkey_file: %[1]s/none.key\nbroker: {urls: [%q]}\n", t.TempDir(), b.URL())), 0o600)
	if _, errb, code := runCmd("--config", noKey, "push", "--device", "till-1", "--name", "sync"); code != 1 || !strings.Contains(errb, "platform key") {
		t.Errorf("no key: exit %d, %q", code, errb)
	}
	// No broker: exit 1, saying so (--wait=false: till-1 is not enrolled).
	dead, _ := platformConf(t, fmt.Sprintf("tcp://127.0.0.1:%d", brokertest.FreePort(t)))
	if _, errb, code := runCmd("--config", dead, "push", "--device", "till-1", "--name", "sync", "--wait=false"); code != 1 || !strings.Contains(errb, "connect") {
		t.Errorf("no broker: exit %d, %q", code, errb)
	}
	// A device that is not enrolled cannot be waited for: its report could
	// not be checked. Refused before publishing.
	if _, errb, code := runCmd("--config", conf, "push", "--device", "till-1", "--name", "sync"); code != 1 || !strings.Contains(errb, "unknown device") {
		t.Errorf("not enrolled: exit %d, %q", code, errb)
	}

	// A good push last: it must be the first thing the watcher sees.
	r := pushOK(t, "--config", conf, "push", "--device", "till-1", "--name", "sync", "--wait=false")
	select {
	case cmd := <-got:
		if cmd == nil || cmd.ID != r.ID {
			t.Fatalf("a refused push was published: %+v", cmd)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("good push not seen")
	}
}

// push waits for the device's signed report and prints the version it
// applied; a refusal prints its reason and exits 1.
func TestPushPrintsAppliedVersion(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	conf, pub := platformConf(t, b.URL())
	d := startDevice(t, conf, b.URL(), pub, "shop-1", "till-1")
	ctx := context.Background()
	limits := []string{"--config", conf, "push", "--tenant", "shop-1", "--device", "till-1", "--name", "offline_limits"}

	for v := 1; v <= 2; v++ {
		out, errb, code := runCmd(append(limits, "--args", fmt.Sprintf(`{"per_transaction":%d,"total":1000}`, 100*v))...)
		if code != 0 || out != fmt.Sprintf("applied version %d\n", v) {
			t.Fatalf("push %d: exit %d, stdout %q, stderr %q", v, code, out, errb)
		}
	}
	if got := d.s.Limits(ctx); got.PerTransaction != 200 {
		t.Fatalf("limits %+v", got)
	}
	// The configuration has a stream of its own.
	if out, errb, code := runCmd("--config", conf, "push", "--tenant", "shop-1", "--device", "till-1", "--name", "config", "--retain",
		"--args", `{"offline_limits":{"per_transaction":300,"total":900}}`); code != 0 || out != "applied version 1\n" {
		t.Fatalf("config: exit %d, stdout %q, stderr %q", code, out, errb)
	}

	// A flow refuses the args (checked by push for the known commands,
	// not for this one): exit 1, the reason printed, the flow unchanged.
	out, errb, code := runCmd("--config", conf, "push", "--tenant", "shop-1", "--device", "till-1", "--name", "nobody_handles_this")
	if code != 1 || !strings.HasPrefix(out, "refused: unhandled") {
		t.Fatalf("unhandled command: exit %d, stdout %q, stderr %q", code, out, errb)
	}

	// The platform's store is lost: its counters start again at 1 and the
	// device refuses the old version, saying which it holds; the report
	// raises the counter, and the next push is applied.
	store := strings.TrimSuffix(readConf(t, conf, "store"), "\n")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(store + suffix)
	}
	if _, errb, code := runCmd("--config", conf, "enrol", "--tenant", "shop-1", "--device", "till-1", "--key", keys.EncodePublic(d.key)); code != 0 {
		t.Fatal(errb)
	}
	out, _, code = runCmd(append(limits, "--args", `{"per_transaction":50,"total":1000}`)...)
	if code != 1 || out != "refused: old (version 1 is below the applied 2); the device holds version 2, push again\n" {
		t.Fatalf("after the store was lost: exit %d, stdout %q", code, out)
	}
	out, errb, code = runCmd(append(limits, "--args", `{"per_transaction":50,"total":1000}`, "--json")...)
	var r pushResult
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Status != "applied" || r.Version != 3 || r.Stream != "cmd.offline_limits" {
		t.Fatalf("push again: exit %d, stdout %q, stderr %q", code, out, errb)
	}
	if got := d.s.Limits(ctx); got.PerTransaction != 50 {
		t.Fatalf("limits %+v", got)
	}
}

// A device that trusts another platform key refuses the push as forged,
// and push says so instead of reporting the broker's PUBACK.
func TestPushForgedRefused(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	conf, _ := platformConf(t, b.URL())
	otherPub, _, _ := ed25519.GenerateKey(nil)
	d := startDevice(t, conf, b.URL(), otherPub, "shop-1", "till-1")
	out, errb, code := runCmd("--config", conf, "push", "--tenant", "shop-1", "--device", "till-1", "--name", "sync")
	if code != 1 || !strings.HasPrefix(out, "refused: forged") || !strings.Contains(errb, "refused") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errb)
	}
	if st := d.lk.Status(); st.Refusals["forged"] != 1 {
		t.Fatalf("device refusals %v", st.Refusals)
	}
}

// readConf returns the value of a top-level key of a platform.yaml.
func readConf(t *testing.T, path, key string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+": "); ok {
			return v
		}
	}
	t.Fatalf("no %s in %s", key, path)
	return ""
}
