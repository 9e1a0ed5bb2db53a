package authz

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/sync/envelope"
)

// platformRig is a platform applying one device's records with Rules, in
// process, that can be restarted on the same store.
type platformRig struct {
	t     *testing.T
	path  string
	rules func() *Rules
	store *platform.Store
	app   *platform.Applier

	key  ed25519.PrivateKey
	seq  uint64
	prev envelope.Hash
}

func newPlatformRig(t *testing.T, rules func() *Rules) *platformRig {
	_, k, _ := ed25519.GenerateKey(nil)
	p := &platformRig{t: t, path: filepath.Join(t.TempDir(), "platform.db"), rules: rules, key: k}
	p.start()
	if err := p.store.Enrol(context.Background(), "t", "d", k.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.store.Close() })
	return p
}

func (p *platformRig) start() {
	s, err := platform.OpenStore(p.path)
	if err != nil {
		p.t.Fatal(err)
	}
	p.store, p.app = s, &platform.Applier{Store: s, Decider: p.rules(), Instance: "p"}
}

// restart closes the store and starts again with new Rules, as a new
// process would: nothing in memory survives.
func (p *platformRig) restart() {
	if err := p.store.Close(); err != nil {
		p.t.Fatal(err)
	}
	p.start()
}

// frame returns the device's next record, signed and chained.
func (p *platformRig) frame(key, typ string, body any) platform.Incoming {
	b, _ := json.Marshal(body)
	p.seq++
	payload, _ := json.Marshal(envelope.Record{Tenant: "t", Device: "d", Seq: p.seq, Key: key, Type: typ, Schema: 1, Prev: p.prev, Body: b})
	p.prev = envelope.HashOf(payload)
	return platform.Incoming{Topic: envelope.Topics{Tenant: "t", Device: "d"}.Records(), Frame: envelope.Seal(p.key, payload)}
}

// apply applies one frame and returns the platform's answer.
func (p *platformRig) apply(in platform.Incoming) envelope.Result {
	p.t.Helper()
	out, err := p.app.Apply(context.Background(), []platform.Incoming{in})
	if err != nil {
		p.t.Fatal(err)
	}
	if len(out.Acks) != 1 || len(out.Acks[0].Results) != 1 {
		p.t.Fatalf("outcome %+v, want one result", out)
	}
	return out.Acks[0].Results[0]
}

func (p *platformRig) send(key, typ string, body any) envelope.Result {
	p.t.Helper()
	return p.apply(p.frame(key, typ, body))
}

func TestOrdersSurviveARestart(t *testing.T) {
	const confirmAfter = time.Second
	p := newPlatformRig(t, func() *Rules { return &Rules{ConfirmAfter: confirmAfter} })
	want := func(what string, got envelope.Result, status string) {
		t.Helper()
		if got.Status != status {
			t.Fatalf("%s: %s (%s), want %s", what, got.Status, got.Reason, status)
		}
	}
	authorised := time.Now()
	want("auth a", p.send("a", checkout.RecordPaymentAuth, checkout.AuthBody{ID: "a", Amount: 5000, Currency: "CNY", Code: "134567890123456780"}), checkout.StatusApproved)
	want("auth b", p.send("b", checkout.RecordPaymentAuth, checkout.AuthBody{ID: "b", Amount: 1234, Currency: "CNY", Code: "155567890123456780"}), checkout.StatusUserPaying)
	// b's confirmation time lies between authorised and answered plus
	// confirm_after: the query below must come before the first, the one
	// after the sleep after the second (on a loaded machine the two auths
	// can take longer than any fixed margin).
	answered := time.Now()

	// Before confirm_after, the order is still waiting: the memory-only
	// wallet would have answered "order not found".
	p.restart()
	want("query b after a restart", p.send("b:query:1", checkout.RecordPaymentQuery, checkout.QueryBody{ID: "b", N: 1}), checkout.StatusUserPaying)
	if time.Since(authorised) >= confirmAfter {
		t.Fatalf("the rig took %v, longer than confirm_after: the query above proved nothing", time.Since(authorised))
	}

	refund1 := p.frame("a:refund:1", checkout.RecordPaymentRefund, checkout.RefundBody{ID: "a", N: "1", Amount: 3000, Paid: 5000, Currency: "CNY"})
	want("refund a 30.00 after a restart", p.apply(refund1), checkout.ResultRefunded)

	p.restart()
	// Redelivered, the refund is answered from the stored result and not
	// counted again: 20.00 are still refundable below.
	want("refund 1 redelivered", p.apply(refund1), checkout.ResultRefunded)
	// Built as if the first refund were unknown (before 0): the device's
	// figures would let it through, the wallet's order does not.
	want("refund a 30.00 again", p.send("a:refund:2", checkout.RecordPaymentRefund, checkout.RefundBody{ID: "a", N: "2", Amount: 3000, Paid: 5000, Currency: "CNY"}), checkout.StatusDeclined)
	want("void of a refunded payment", p.send("a:void", checkout.RecordPaymentVoid, checkout.VoidBody{ID: "a", Amount: 5000}), checkout.StatusDeclined)
	want("refund a the last 20.00", p.send("a:refund:3", checkout.RecordPaymentRefund, checkout.RefundBody{ID: "a", N: "3", Amount: 2000, Paid: 5000, Before: 3000, Currency: "CNY"}), checkout.ResultRefunded)

	// The time of confirmation was stored, not a timer: once it has
	// passed, the restarted platform answers approved and refuses to
	// reverse what was paid.
	time.Sleep(time.Until(answered.Add(confirmAfter + 10*time.Millisecond)))
	p.restart()
	want("query b after confirm_after", p.send("b:query:2", checkout.RecordPaymentQuery, checkout.QueryBody{ID: "b", N: 2}), checkout.StatusApproved)
	want("reverse of paid b", p.send("b:reverse", checkout.RecordPaymentReverse, checkout.ReverseBody{ID: "b", Amount: 1234}), checkout.StatusDeclined)
}
