package platform

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/sync/envelope"
)

// fresh returns d's key under a new outbox identity, numbering from 1.
func fresh(t *testing.T, d *device) *device {
	id, err := envelope.NewOutboxID()
	if err != nil {
		t.Fatal(err)
	}
	return &device{tenant: d.tenant, id: d.id, key: d.key, outbox: id}
}

func stats(t *testing.T, a *Applier) DeviceStats {
	st, err := a.Store.Stats(context.Background())
	if err != nil || len(st) != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}
	return st[0]
}

func TestNewOutboxIsANewStream(t *testing.T) {
	a, d0, _ := setup(t)
	d := fresh(t, d0)
	out := apply(t, a, d.next("k1"), d.next("k2"))
	if out.Applied != 2 || out.Acks[0].Outbox != d.outbox || out.Acks[0].Upto != 2 {
		t.Fatalf("first outbox: %+v %+v", out, out.Acks[0])
	}
	// The store is deleted: a new identity numbers from 1 again, and its
	// records are applied, not acked as duplicates.
	e := fresh(t, d0)
	out = apply(t, a, e.next("k3"), e.next("k4"))
	if out.Applied != 2 || out.Duplicates != 0 || out.Acks[0].Outbox != e.outbox || out.Acks[0].Upto != 2 {
		t.Fatalf("new outbox: %+v %+v", out, out.Acks[0])
	}
	st := stats(t, a)
	if st.Outboxes != 2 || st.IdentityChanges != 1 || st.Applied != 4 {
		t.Fatalf("stats %+v", st)
	}
	ev, err := a.Store.Events(context.Background(), 10)
	if err != nil || len(ev) != 1 || ev[0].Kind != EventNewOutbox || ev[0].Outbox != e.outbox.String() {
		t.Fatalf("events %+v %v", ev, err)
	}
	if recs, _ := a.Store.Records(context.Background(), "t", "d"); len(recs) != 4 || recs[2].Outbox != e.outbox.String() || recs[2].Seq != 1 {
		t.Fatalf("records %+v", recs)
	}
}

func TestConflictRefusedAndRecoveredByNewOutbox(t *testing.T) {
	a, d0, _ := setup(t)
	d := fresh(t, d0)
	apply(t, a, d.next("k1"), d.next("k2"), d.next("k3"))
	// A copy taken after k1 goes on numbering: seq 2 is another record.
	copyOf := *d
	copyOf.seq, copyOf.prev = 1, envelope.Hash{}
	copyOf.prev = d.prevOf(t, a, 1)
	other := copyOf.next("k9")
	out := apply(t, a, other)
	if out.Applied != 0 || out.Conflicts != 1 || len(out.Acks[0].Rejects) != 1 || out.Acks[0].Rejects[0].Code != envelope.RejectConflict {
		t.Fatalf("conflict: %+v %+v", out, out.Acks[0])
	}
	// The same record again is a plain duplicate.
	d2 := *d
	d2.seq, d2.prev = 1, d.prevOf(t, a, 1)
	if out := apply(t, a, d2.next("k2")); out.Duplicates != 1 || out.Conflicts != 0 || out.Acks[0].Results[0].Key != "k2" {
		t.Fatalf("duplicate: %+v", out)
	}
	// The device rekeys: its waiting records (k2, k3 as the copy had
	// them, and k9) under a new identity. k2 and k3 are answered from
	// the store, k9 is applied.
	e := fresh(t, d0)
	out = apply(t, a, e.next("k2"), e.next("k3"), e.next("k9"))
	if out.Applied != 1 || out.Duplicates != 2 || out.Acks[0].Upto != 3 {
		t.Fatalf("after rekey: %+v %+v", out, out.Acks[0])
	}
	if got := keys(t, a); got != "k1 k2 k3 k9" {
		t.Fatalf("applied %s", got)
	}
	if st := stats(t, a); st.Conflicts != 1 || st.IdentityChanges != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// prevOf returns the hash of the applied record seq of d's outbox.
func (d *device) prevOf(t *testing.T, a *Applier, seq uint64) envelope.Hash {
	var h []byte
	if err := a.Store.db.QueryRow(`SELECT hash FROM records WHERE outbox=? AND seq=?`, d.outbox.String(), seq).Scan(&h); err != nil {
		t.Fatal(err)
	}
	var out envelope.Hash
	copy(out[:], h)
	return out
}

func keys(t *testing.T, a *Applier) string {
	recs, err := a.Store.Records(context.Background(), "t", "d")
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, r := range recs {
		ks = append(ks, r.Key)
	}
	return strings.Join(ks, " ")
}

func TestKeyFromAnotherOutboxGetsTheStoredResult(t *testing.T) {
	a, d0, _ := setup(t)
	a.Decider = approveAll{}
	d := fresh(t, d0)
	apply(t, a, d.next("pay-1"))
	e := fresh(t, d0)
	out := apply(t, a, e.next("pay-1"))
	r := out.Acks[0].Results[0]
	if out.Applied != 0 || r.Status != "approved" || string(r.Body) != `{"auth":"A1"}` || r.Seq != 1 {
		t.Fatalf("answer %+v, outcome %+v", r, out)
	}
}

type approveAll struct{}

func (approveAll) Decide(r *envelope.Record) envelope.Result {
	return envelope.Result{Status: "approved", Body: []byte(`{"auth":"A1"}`)}
}

func TestSkipMovesPastARejectedRecord(t *testing.T) {
	ctx := context.Background()
	a, d0, _ := setup(t)
	d := fresh(t, d0)
	apply(t, a, d.next("k1"))
	good := d.prev
	d.prev = envelope.Hash{1} // record 2 is damaged: its link is wrong
	bad := d.next("k2")
	next := d.next("k3") // chains to the damaged record
	out := apply(t, a, bad, next)
	if out.Applied != 0 || out.Acks[0].Upto != 1 || len(out.Acks[0].Rejects) != 1 || out.Acks[0].Rejects[0].Code != envelope.RejectChain || out.Held != 1 {
		t.Fatalf("reject: %+v %+v", out, out.Acks[0])
	}
	if st := stats(t, a); st.Blocked != 1 {
		t.Fatalf("not reported blocked: %+v", st)
	}
	// Skipping anything but the blocked record is refused.
	if err := a.Store.RecordSkip(ctx, "t", "d", d.outbox, 3, "r", "c0"); !errors.Is(err, ErrNotBlocked) {
		t.Fatalf("skip of seq 3: %v", err)
	}
	other, _ := envelope.NewOutboxID()
	if err := a.Store.RecordSkip(ctx, "t", "d", other, 2, "r", "c0"); !errors.Is(err, ErrNotBlocked) {
		t.Fatalf("skip in an unknown outbox: %v", err)
	}
	if err := a.Store.RecordSkip(ctx, "t", "d", d.outbox, 2, "edited on the device, ticket 7", "c1"); err != nil {
		t.Fatal(err)
	}
	// The next record chains to the skipped one: accepted.
	out = apply(t, a, next)
	if out.Applied != 1 || out.Acks[0].Upto != 3 {
		t.Fatalf("after skip: %+v %+v", out, out.Acks[0])
	}
	// The skipped record sent again is answered "skipped", not applied.
	out = apply(t, a, bad)
	if out.Applied != 0 || len(out.Acks[0].Results) != 1 || out.Acks[0].Results[0].Status != "skipped" {
		t.Fatalf("resent skipped record: %+v", out.Acks[0])
	}
	// A record that links to the good one at seq 2's place is still a
	// conflict-free break elsewhere: the chain is checked after the skip.
	d.prev = good
	if out := apply(t, a, d.next("k4")); out.Rejected != 1 || out.Acks[0].Rejects[0].Code != envelope.RejectChain {
		t.Fatalf("broken link after the skip accepted: %+v", out.Acks[0])
	}
	if got := keys(t, a); got != "k1 k3" {
		t.Fatalf("applied %s", got)
	}
	st := stats(t, a)
	if st.Skips != 1 || st.Blocked != 1 {
		t.Fatalf("stats %+v", st)
	}
	ev, _ := a.Store.Events(ctx, 10)
	if len(ev) != 1 || ev[0].Kind != EventSkip || ev[0].Seq != 2 || !strings.Contains(ev[0].Detail, "ticket 7") {
		t.Fatalf("events %+v", ev)
	}
}

// A store written before outbox identities opens migrated: its records
// are the release-1 stream's, which goes on where it was.
func TestMigrateStoreWithoutStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	a0, d, _ := setup(t)
	pub := []byte(d.key.Public().(ed25519.PublicKey))
	var hash envelope.Hash
	for i := 1; i <= 2; i++ {
		in := d.next(fmt.Sprintf("old-%d", i))
		p, _, _ := envelope.Split(in.Frame)
		hash = envelope.HashOf(p)
		if _, err := db.Exec(`INSERT INTO records(tenant,device,seq,key,type,body,status,wall,applied_at,instance) VALUES('t','d',?,?,'test','{}','applied',0,0,'x')`, i, fmt.Sprintf("old-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	_ = a0
	if _, err := db.Exec(`INSERT INTO devices(tenant,device,pubkey,applied,last_hash) VALUES('t','d',?,2,?)`, pub, hash[:]); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v int
	s.db.QueryRow(`PRAGMA user_version`).Scan(&v)
	if v != len(migrations) {
		t.Fatalf("user_version %d", v)
	}
	a := &Applier{Store: s}
	// The old records are duplicates; the next one is applied in order.
	d2 := *d
	d2.seq, d2.prev = 0, envelope.Hash{}
	out := apply(t, a, d2.next("old-1"), d2.next("old-2"), d.next("new-3"))
	if out.Applied != 1 || out.Duplicates != 2 || out.Acks[0].Upto != 3 || !out.Acks[0].Outbox.IsZero() {
		t.Fatalf("after migration: %+v %+v", out, out.Acks[0])
	}
	if got := keys(t, a); got != "old-1 old-2 new-3" {
		t.Fatalf("records %s", got)
	}
	// Reopening runs nothing again.
	s.Close()
	if s, err = OpenStore(path); err != nil {
		t.Fatal(err)
	}
}

// A release-1 device decodes acks strictly: the acks of its stream carry
// no field it does not know.
func TestRelease1StreamAcksHaveRelease1Fields(t *testing.T) {
	a, d, _ := setup(t)
	apply(t, a, d.next("k1"))
	d.prev = envelope.Hash{1}
	out := apply(t, a, d.next("k2"))
	b, _ := json.Marshal(out.Acks[0])
	for _, f := range []string{`"outbox"`, `"last"`, `"code"`} {
		if strings.Contains(string(b), f) {
			t.Errorf("release-1 ack carries %s: %s", f, b)
		}
	}
	e := fresh(t, d)
	out = apply(t, a, e.next("k3"))
	if b, _ := json.Marshal(out.Acks[0]); !strings.Contains(string(b), `"last"`) || !strings.Contains(string(b), `"outbox"`) {
		t.Errorf("ack of an outbox with an identity: %s", b)
	}
}
