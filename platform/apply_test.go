package platform

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/guichet/guichet/sync/envelope"
)

// device makes correctly chained, signed frames for one device.
type device struct {
	tenant, id string
	key        ed25519.PrivateKey
	outbox     envelope.OutboxID
	seq        uint64
	prev       envelope.Hash
}

func (d *device) next(key string) Incoming {
	d.seq++
	p, _ := json.Marshal(envelope.Record{Tenant: d.tenant, Device: d.id, Outbox: d.outbox, Seq: d.seq, Key: key, Type: "test", Schema: 1, Prev: d.prev, Body: []byte(`{}`)})
	d.prev = envelope.HashOf(p)
	return Incoming{Topic: envelope.Topics{Tenant: d.tenant, Device: d.id}.Records(), Frame: envelope.Seal(d.key, p)}
}

func setup(t *testing.T) (*Applier, *device, map[string]int) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	_, k, _ := ed25519.GenerateKey(nil)
	if err := s.Enrol(context.Background(), "t", "d", k.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	a := &Applier{Store: s, Instance: "test", Reject: func(_, _ string, _ uint64, r string) { reasons[r]++ }}
	return a, &device{tenant: "t", id: "d", key: k}, reasons
}

func apply(t *testing.T, a *Applier, in ...Incoming) *Outcome {
	t.Helper()
	out, err := a.Apply(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func applied(t *testing.T, a *Applier) []uint64 {
	recs, err := a.Store.Records(context.Background(), "t", "d")
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, r := range recs {
		seqs = append(seqs, r.Seq)
	}
	return seqs
}

func TestInOrderDuplicatesAndGaps(t *testing.T) {
	a, d, _ := setup(t)
	r1, r2, r3, r4 := d.next("k1"), d.next("k2"), d.next("k3"), d.next("k4")
	// Out of order within one batch: sorted, all applied.
	out := apply(t, a, r2, r1)
	if out.Applied != 2 || len(out.Acks) != 1 || out.Acks[0].Upto != 2 {
		t.Fatalf("outcome %+v", out)
	}
	// r4 ahead of a gap is held, not acked.
	out = apply(t, a, r4)
	if out.Applied != 0 || out.Held != 1 || out.Acks[0].Upto != 2 {
		t.Fatalf("gap: %+v", out)
	}
	// r3 fills the gap: r3 and the held r4 are applied together.
	out = apply(t, a, r3)
	if out.Applied != 2 || out.Acks[0].Upto != 4 || len(out.Acks[0].Results) != 2 {
		t.Fatalf("fill: %+v", out.Acks[0])
	}
	// Every one again: duplicates, re-acked with their stored results.
	out = apply(t, a, r1, r2, r3, r4)
	if out.Applied != 0 || out.Duplicates != 4 || len(out.Acks[0].Results) != 4 || out.Acks[0].Results[0].Status != "applied" {
		t.Fatalf("replay: %+v", out)
	}
	if got := fmt.Sprint(applied(t, a)); got != "[1 2 3 4]" {
		t.Fatalf("applied %s", got)
	}
	st, _ := a.Store.Stats(context.Background())
	if st[0].Applied != 4 || st[0].Duplicates != 4 || st[0].Held != 0 {
		t.Fatalf("stats %+v", st[0])
	}
}

func TestSameKeyUnderNewSeqAppliesNothing(t *testing.T) {
	a, d, _ := setup(t)
	out := apply(t, a, d.next("pay-1"), d.next("pay-1"))
	if out.Applied != 1 || out.Duplicates != 1 || out.Acks[0].Upto != 2 || out.Acks[0].Results[1].Status != "duplicate" {
		t.Fatalf("outcome %+v", out.Acks[0])
	}
}

func TestRefusals(t *testing.T) {
	a, d, reasons := setup(t)
	good := d.next("k1")

	_, otherKey, _ := ed25519.GenerateKey(nil)
	forged := *d
	forged.key, forged.seq, forged.prev = otherKey, 0, envelope.Hash{}
	badSig := forged.next("k1")

	ghost := &device{tenant: "t", id: "ghost", key: d.key}
	wrongTopic := good
	wrongTopic.Topic = envelope.Topics{Tenant: "t", Device: "other"}.Records()

	truncated := Incoming{Topic: good.Topic, Frame: good.Frame[:10]}
	flipped := Incoming{Topic: good.Topic, Frame: append([]byte(nil), good.Frame...)}
	flipped.Frame[20] ^= 1
	out := apply(t, a, badSig, ghost.next("g"), wrongTopic, truncated, flipped, Incoming{Topic: "elsewhere/x", Frame: good.Frame})
	if out.Applied != 0 || out.Rejected != 6 {
		t.Fatalf("outcome %+v", out)
	}
	for _, r := range []string{"bad signature", "unknown device", "envelope: frame truncated", "bad topic"} {
		if reasons[r] == 0 {
			t.Errorf("reason %q not reported: %v", r, reasons)
		}
	}
	// A broken chain: seq 2 whose prev is not record 1's hash.
	apply(t, a, good)
	d.prev = envelope.Hash{1}
	out = apply(t, a, d.next("k2"))
	if out.Applied != 0 || out.Rejected != 1 || len(out.Acks[0].Rejects) != 1 || out.Acks[0].Upto != 1 {
		t.Fatalf("chain break: %+v", out.Acks[0])
	}
}

func TestEnrolRefusesAnotherKey(t *testing.T) {
	a, d, _ := setup(t)
	if err := a.Store.Enrol(context.Background(), "t", "d", d.key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("same key again: %v", err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	if err := a.Store.Enrol(context.Background(), "t", "d", pub); err == nil {
		t.Fatal("another key for an enrolled device accepted")
	}
}
