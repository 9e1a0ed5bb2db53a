package checkout_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/platform/wallet"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

// rigDecider is the reference platform's rules in small: blocked codes
// are declined, the rest goes to the simulated wallet.
type rigDecider struct {
	blocked []string
	wallet  *wallet.SimWallet
	// delay makes the platform slow: each record waits this long (ns).
	delay atomic.Int64
}

func (d *rigDecider) Decide(rec *envelope.Record) envelope.Result {
	if n := d.delay.Load(); n > 0 {
		time.Sleep(time.Duration(n))
	}
	var b checkout.AuthBody
	if rec.Type == checkout.RecordPaymentAuth && json.Unmarshal(rec.Body, &b) == nil && slices.Contains(d.blocked, b.Code) {
		return envelope.Result{Status: checkout.StatusDeclined, Reason: "wallet refused the code"}
	}
	return d.wallet.Decide(rec)
}

type linkOnline struct{ lk *link.Link }

func (l linkOnline) Online() bool { return l.lk.Status().Connected }

// rig is a device (outbox, link, checkout.Service and its driver) and a platform
// (store, server, simulated wallet) over a real Mosquitto.
type rig struct {
	broker *brokertest.Mosquitto
	store  *platform.Store
	srv    *platform.Server
	ob     *outbox.Store
	lk     *link.Link
	s      *checkout.Service
	dec    *rigDecider
	// stopPlatform stops the platform's server, the broker staying up;
	// startPlatform starts a new one over the same store.
	stopPlatform, startPlatform func()
}

const blockedCode = "134567890123456789"

func newRig(t testing.TB) *rig {
	t.Helper()
	r := &rig{broker: brokertest.StartMosquitto(t)}
	dir := t.TempDir()
	_, platKey, _ := ed25519.GenerateKey(nil)
	_, devKey, _ := ed25519.GenerateKey(nil)
	var err error
	if r.store, err = platform.OpenStore(filepath.Join(dir, "platform.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.store.Close() })
	if err := r.store.Enrol(context.Background(), "t1", "d1", devKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if r.ob, err = outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Identity{Tenant: "t1", Device: "d1", Key: devKey}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.ob.Close() })
	quiet := slog.New(slog.DiscardHandler)
	r.s = &checkout.Service{Store: r.ob, Currency: "CNY", WaitOnline: 3 * time.Second, Log: quiet,
		PollEvery: 150 * time.Millisecond, ConfirmTimeout: 1500 * time.Millisecond,
		OfflinePerTransaction: 100, OfflineTotal: 100}
	rt := link.NewRouter()
	rt.HandleResults(r.s.OnResult, checkout.ResultTypes...)
	rt.HandleCommands(r.s.ApplyCommand, checkout.Commands...)
	if r.lk, err = link.New(link.Config{Tenant: "t1", Device: "d1", Brokers: []string{r.broker.URL()},
		PlatformKey: platKey.Public().(ed25519.PublicKey), AckTimeout: time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, KeepAlive: 2 * time.Second, Logger: quiet,
		Router: rt}, r.ob); err != nil {
		t.Fatal(err)
	}
	r.s.Link = linkOnline{r.lk}
	wallet := &wallet.SimWallet{ConfirmPrefixes: []string{"1555"}, AbandonPrefixes: []string{"1556"}, ConfirmAfter: 500 * time.Millisecond}
	r.dec = &rigDecider{blocked: []string{blockedCode}, wallet: wallet}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var stopSrv func()
	r.startPlatform = func() {
		r.srv = platform.NewServer(platform.ServerConfig{Instance: "p1", Brokers: []string{r.broker.URL()}, Key: platKey,
			BatchMax: 100, BatchDelay: time.Millisecond, Logger: quiet}, r.store, r.dec)
		sctx, scancel := context.WithCancel(ctx)
		done := make(chan struct{})
		wg.Add(1)
		go func() { defer wg.Done(); defer close(done); r.srv.Run(sctx) }()
		stopSrv = func() { scancel(); <-done }
	}
	r.stopPlatform = func() { stopSrv() }
	r.startPlatform()
	wg.Add(2)
	go func() { defer wg.Done(); r.lk.Run(ctx) }()
	go func() { defer wg.Done(); r.s.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	eventually(t, "link connected", func() bool { return r.lk.Status().Connected })
	return r
}

func eventually(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *rig) status(t testing.TB, id string) string {
	p, err := r.s.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p.Status
}

// applied returns the keys and results the platform stored.
func (r *rig) applied(t testing.TB) map[string]string {
	recs, err := r.store.Records(context.Background(), "t1", "d1")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, rec := range recs {
		out[rec.Key] = rec.Status
	}
	return out
}

func TestRigUserPayingConfirmedOrReversed(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	p, err := r.s.Pay(ctx, 1234, "134567890123456780")
	if err != nil || p.Status != checkout.StatusApproved {
		t.Fatalf("plain payment %+v %v", p, err)
	}
	conf, err := r.s.Pay(ctx, 500, "155567890123456780")
	if err != nil || conf.Status != checkout.StatusUserPaying {
		t.Fatalf("payment needing confirmation %+v %v", conf, err)
	}
	gone, err := r.s.Pay(ctx, 700, "155667890123456780")
	if err != nil || gone.Status != checkout.StatusUserPaying {
		t.Fatalf("abandoned payment %+v %v", gone, err)
	}
	eventually(t, "confirmed payment approved", func() bool { return r.status(t, conf.ID) == checkout.StatusApproved })
	eventually(t, "abandoned payment reversed", func() bool { return r.status(t, gone.ID) == checkout.StatusReversed })
	eventually(t, "reverse applied", func() bool { return r.applied(t)[gone.ID+":reverse"] == checkout.ResultReversed })
	got, _ := r.s.Get(ctx, gone.ID)
	if got.Queries < 3 || got.LateRefund {
		t.Fatalf("abandoned payment %+v", got)
	}
	if a := r.applied(t); a[conf.ID+":query:1"] == "" || a[gone.ID+":refund:late"] != "" {
		t.Fatalf("platform records %v", a)
	}
	// Refund half of the confirmed payment, then the rest, then one cent too many.
	if _, err := r.s.Refund(ctx, conf.ID, 250); err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.Refund(ctx, conf.ID, 250); err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.Refund(ctx, conf.ID, 1); err == nil {
		t.Fatal("refund beyond the payment accepted")
	}
	eventually(t, "refunds confirmed", func() bool {
		q, _ := r.s.Get(ctx, conf.ID)
		return len(q.Refunds) == 2 && q.Refunds[0].Status == checkout.ResultRefunded && q.Refunds[1].Status == checkout.ResultRefunded
	})
	if _, err := r.s.Void(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "void applied", func() bool { return r.applied(t)[p.ID+":void"] == checkout.ResultVoided })
	eventually(t, "outbox drained", func() bool { return r.ob.Stats().Depth == 0 })
}

func TestRigOfflineForwardedAndLimitsFromPlatform(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	args := []byte(`{"per_transaction":5000,"total":8000}`)
	if err := r.srv.SendCommand(ctx, envelope.Command{Tenant: "t1", Device: "d1", ID: "lim-1", Name: checkout.CommandOfflineLimits,
		Args: args, Expires: time.Now().Add(time.Minute).UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "limits applied", func() bool { return r.s.Limits(ctx).Total == 8000 })

	r.broker.Kill()
	eventually(t, "link down", func() bool { return !r.lk.Status().Connected })
	ok, err := r.s.Pay(ctx, 4000, "134567890123456780")
	if err != nil || ok.Status != checkout.StatusApprovedOffline {
		t.Fatalf("offline payment %+v %v", ok, err)
	}
	bad, err := r.s.Pay(ctx, 3000, blockedCode)
	if err != nil || bad.Status != checkout.StatusApprovedOffline {
		t.Fatalf("offline payment %+v %v", bad, err)
	}
	last := r.ob.Stats().LastSeq
	if p, err := r.s.Pay(ctx, 1001, "134567890123456780"); err != nil || p.Reason != checkout.ReasonOverLimit {
		t.Fatalf("payment above the total offline limit: %+v %v", p, err)
	}
	if p, err := r.s.Pay(ctx, 5001, "134567890123456780"); err != nil || p.Reason != checkout.ReasonOverLimit {
		t.Fatalf("payment above the per-payment offline limit: %+v %v", p, err)
	}
	if r.ob.Stats().LastSeq != last {
		t.Fatal("a refused offline payment was stored")
	}
	r.broker.Restart()
	eventually(t, "offline payment approved by the platform", func() bool { return r.status(t, ok.ID) == checkout.StatusApproved })
	eventually(t, "blocked offline payment declined", func() bool { return r.status(t, bad.ID) == checkout.StatusDeclined })
	rep, err := r.s.Report(ctx, time.Now().Local().Format(time.DateOnly))
	if err != nil || rep.OfflineDeclined != 3000 || rep.OfflineDeclinedCount != 1 || rep.OfflinePending != 0 || rep.Sales != 4000 {
		t.Fatalf("report %+v %v", rep, err)
	}
	if a := r.applied(t); a[ok.ID] != checkout.StatusApproved || len(a) != 2 {
		t.Fatalf("platform applied %v", a)
	}
}

// outage is one kind of outage: start begins it on a rig, end ends it.
type outage struct {
	name, fig  string
	start, end func(r *rig)
	sent       bool // a payment taken during it reaches the broker
}

func outageKinds(tb testing.TB) []outage {
	return []outage{
		{"broker down", "broker_down", func(r *rig) {
			r.broker.Kill()
			eventually(tb, "link down", func() bool { return !r.lk.Status().Connected })
		}, func(r *rig) { r.broker.Restart() }, false},
		{"platform down, broker up", "platform_down", func(r *rig) { r.stopPlatform() }, func(r *rig) { r.startPlatform() }, true},
		{"platform slow", "platform_slow", func(r *rig) { r.dec.delay.Store(int64(2 * time.Second)) }, func(r *rig) { r.dec.delay.Store(0) }, true},
	}
}

// TestRigDecisionInEveryOutage plays each outage against a real broker
// and platform: within wait_online the cashier gets approved offline or
// declined "offline, over the limit", never queued; once the outage ends,
// every decided payment is applied by the platform as the cashier saw it
// (approved), or never sent, or refunded (declined after it was sent).
func TestRigDecisionInEveryOutage(t *testing.T) {
	for _, o := range outageKinds(t) {
		t.Run(o.name, func(t *testing.T) {
			r := newRig(t)
			ctx := context.Background()
			r.s.WaitOnline = 300 * time.Millisecond
			if err := r.s.ApplyCommand(ctx, &envelope.Command{ID: "lim", Name: checkout.CommandOfflineLimits,
				Args: []byte(`{"per_transaction":5000,"total":8000}`)}); err != nil {
				t.Fatal(err)
			}
			o.start(r)
			ok, err := r.s.Pay(ctx, 4000, "134567890123456780")
			if err != nil || ok.Status != checkout.StatusApprovedOffline {
				t.Fatalf("within the limits: %+v %v", ok, err)
			}
			over, err := r.s.Pay(ctx, 5001, "134567890123456781")
			if err != nil || over.Status != checkout.StatusDeclined || over.Reason != checkout.ReasonOverLimit {
				t.Fatalf("over the limits: %+v %v", over, err)
			}
			o.end(r)
			eventually(t, "offline payment approved by the platform", func() bool { return r.status(t, ok.ID) == checkout.StatusApproved })
			eventually(t, "outbox drained", func() bool { return r.ob.Stats().Depth == 0 })
			a := r.applied(t)
			if a[ok.ID] != checkout.StatusApproved {
				t.Fatalf("platform applied %v", a)
			}
			got, _ := r.s.Get(ctx, over.ID)
			if got.Status != checkout.StatusDeclined {
				t.Fatalf("declined payment became %+v", got)
			}
			if !o.sent {
				if _, seen := a[over.ID]; seen {
					t.Fatalf("declined offline payment sent: %v", a)
				}
				return
			}
			// Sent before the decision: the platform took it, the device
			// refunds it in full.
			eventually(t, "declined payment refunded", func() bool {
				q, _ := r.s.Get(ctx, over.ID)
				return q.LateRefund && len(q.Refunds) == 1 && q.Refunds[0].Status == checkout.ResultRefunded
			})
		})
	}
}

// BenchmarkOfflineDecision measures offline_decision_ms_<kind>: how long
// Pay takes to give the cashier a decision in each kind of outage, with
// wait_online at 500 ms (the target: within wait_online + 300 ms), next
// to pay_online_ms, the same payment answered by the platform, through
// the real outbox, link, Mosquitto and reference platform.
func BenchmarkOfflineDecision(b *testing.B) {
	const n = 9
	const wait = 500 * time.Millisecond
	ctx := context.Background()
	r := newRig(b)
	r.s.WaitOnline = wait
	var online []float64
	for i := 0; i < n+1; i++ {
		t0 := time.Now()
		p, err := r.s.Pay(ctx, 100, fmt.Sprintf("13%016d", i))
		if err != nil || p.Status != checkout.StatusApproved {
			b.Fatalf("online payment %+v %v", p, err)
		}
		if i > 0 {
			online = append(online, float64(time.Since(t0).Microseconds())/1000)
		}
	}
	benchfig.Report(b, "pay_online_ms", median(online), "ms")
	benchfig.Report(b, "wait_online_ms", float64(wait.Milliseconds()), "ms")
	for _, o := range outageKinds(b) {
		r := newRig(b)
		r.s.WaitOnline = wait
		if err := r.s.ApplyCommand(ctx, &envelope.Command{ID: "lim", Name: checkout.CommandOfflineLimits,
			Args: []byte(`{"per_transaction":5000,"total":1000000}`)}); err != nil {
			b.Fatal(err)
		}
		o.start(r)
		var took []float64
		for i := 0; i < n; i++ {
			amount := int64(100) // approved offline, and every third over the limit
			if i%3 == 2 {
				amount = 5001
			}
			t0 := time.Now()
			p, err := r.s.Pay(ctx, amount, fmt.Sprintf("13%016d", i))
			d := time.Since(t0)
			if err != nil || (p.Status != checkout.StatusApprovedOffline && p.Reason != checkout.ReasonOverLimit) {
				b.Fatalf("%s: payment %+v %v", o.name, p, err)
			}
			took = append(took, float64(d.Microseconds())/1000)
		}
		o.end(r)
		benchfig.Report(b, "offline_decision_ms_"+o.fig, median(took), "ms")
		b.Logf("offline_decision_ms_%s: %v", o.fig, took)
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
