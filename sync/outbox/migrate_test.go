package outbox_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/eid/counter"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

// ledgerOf reads the ledger of the release-1 file as it was written.
func ledgerOf(t *testing.T, path string) map[string]map[string][]byte {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT bucket, k, v FROM ledger`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]map[string][]byte{}
	for rows.Next() {
		var b, k string
		var v []byte
		if err := rows.Scan(&b, &k, &v); err != nil {
			t.Fatal(err)
		}
		if out[b] == nil {
			out[b] = map[string][]byte{}
		}
		out[b][k] = v
	}
	return out
}

func frames(t *testing.T, path string) map[uint64][]byte {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT seq, frame FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[uint64][]byte{}
	for rows.Next() {
		var seq uint64
		var f []byte
		if err := rows.Scan(&seq, &f); err != nil {
			t.Fatal(err)
		}
		out[seq] = f
	}
	return out
}

// TestMigrateRelease1 opens a copy of a store written by the release that
// kept the flows' data in the key-value ledger: it migrates, and every
// payment, order, setting, closed day, activation, official, audit entry
// and queued record is still there and still works.
func TestMigrateRelease1(t *testing.T) {
	ctx := context.Background()
	orig := filepath.Join("testdata", "release-1.db")
	b, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "outbox.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	old := ledgerOf(t, path)
	oldFrames := frames(t, path)
	if _, err := outbox.OpenReadOnly(ctx, path); !errors.Is(err, outbox.ErrSchema) {
		t.Fatalf("read-only open of an unmigrated store: %v", err)
	}

	id := release1Identity()
	ob, err := outbox.Open(path, id)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	if st := ob.Stats(); st.LastSeq != 24 || st.Acked != 6 || st.Depth != 18 {
		t.Fatalf("queue after migration: %+v", st)
	}
	// Its waiting records were signed without an identity: the store stays
	// in the release-1 stream until they are acked (identity.go).
	if !ob.Identity().IsZero() {
		t.Fatalf("release-1 store with waiting records got identity %s", ob.Identity())
	}
	var n int
	if err := ob.Reader().QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'ledger'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("ledger table still there: %d %v", n, err)
	}

	// Payments: every one, field for field.
	svc := &checkout.Service{Store: ob, Currency: "CNY"}
	if len(old["payments"]) != 10 {
		t.Fatalf("test data holds %d payments", len(old["payments"]))
	}
	for pid, v := range old["payments"] {
		var want checkout.Payment
		if err := json.Unmarshal(v, &want); err != nil {
			t.Fatal(err)
		}
		got, err := svc.Get(ctx, pid)
		if err != nil {
			t.Fatalf("payment %s: %v", pid, err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("payment %s:\n got %+v\nwant %+v", pid, *got, want)
		}
	}
	recent, err := svc.Recent(ctx, 100)
	if err != nil || len(recent) != 10 || recent[0].Created.Before(recent[9].Created) {
		t.Fatalf("recent: %d payments, %v", len(recent), err)
	}
	// The hand-kept indexes are the tables' indexes now.
	if n, sum, err := svc.OfflinePending(ctx); n != 1 || sum != 2500 || err != nil {
		t.Errorf("offline pending: %d %d %v", n, sum, err)
	}
	// Orders.
	for oid, v := range old["orders"] {
		var want checkout.Order
		json.Unmarshal(v, &want)
		got, err := svc.GetOrder(ctx, oid)
		if err != nil || !reflect.DeepEqual(got.Parts, want.Parts) || got.Total != want.Total || got.Paid != 4000 || got.Pending != 2000 {
			t.Errorf("order %s: %+v %v", oid, got, err)
		}
	}
	// Settings and promotions.
	if l := svc.Limits(ctx); l.PerTransaction != 8000 || l.Total != 30000 {
		t.Errorf("offline limits: %+v", l)
	}
	if ps := svc.Promotions(ctx); len(ps) != 1 || ps[0].ID != "wx-nov" {
		t.Errorf("promotions: %+v", ps)
	}
	// The closed day keeps its stored report; the open day is computed.
	var closed checkout.Report
	json.Unmarshal(old["checkout.days"]["2026-11-23"], &closed)
	if r, err := svc.Report(ctx, "2026-11-23"); err != nil || !reflect.DeepEqual(*r, closed) {
		t.Errorf("closed day: %+v %v", r, err)
	}
	r, err := svc.Report(ctx, "2026-11-24")
	if err != nil || r.Closed || r.Count != 3 || r.Sales != 9000+4000+2500 || r.Discounts != 1000 || r.VoidCount != 1 ||
		r.Voids != 700 || r.UserPaying != 1 || r.OfflinePending != 2500 || r.Refunds != 0 {
		t.Errorf("open day: %+v %v", r, err)
	}
	if r, _ := svc.Report(ctx, "2026-11-23"); r.RefundCount != 1 || r.Refunds != 1000 {
		t.Errorf("refunds of the closed day: %+v", r)
	}

	// Migration 5: every refund has the local date of its time as its day.
	var undated int
	if err := ob.Reader().QueryRow(`SELECT count(*) FROM refunds WHERE day != date(at / 1000, 'unixepoch', 'localtime') OR day = ''`).Scan(&undated); err != nil || undated != 0 {
		t.Errorf("refunds without their day: %d, %v", undated, err)
	}

	// Activations.
	for aid, v := range old["eid-act"] {
		var want counter.Stored
		json.Unmarshal(v, &want)
		got := counter.Stored{Activation: aid}
		if err := ob.Reader().QueryRow(`SELECT subject, official, status, reason, seq, at FROM activations WHERE id = ?`, aid).
			Scan(&got.Subject, &got.Official, &got.Status, &got.Reason, &got.Seq, &got.At); err != nil || got != want {
			t.Errorf("activation %s: %+v %v, want %+v", aid, got, err, want)
		}
	}
	// Officials: the PINs still check, the failure counted still counts.
	offs := &counter.Officials{Store: ob, LockAfter: 2}
	if err := offs.Check(ctx, "off-7", "482913"); err != nil {
		t.Errorf("off-7: %v", err)
	}
	if err := offs.Check(ctx, "off-8", "000001"); !errors.Is(err, counter.ErrLocked) {
		t.Errorf("off-8's second wrong PIN: %v, want locked", err)
	}

	// The audit log: same entries, chain verifies, appends continue it.
	encs, err := audit.Entries(ctx, ob)
	if err != nil || len(encs) != len(old["audit"]) || len(encs) != 9 {
		t.Fatalf("audit entries: %d, %v", len(encs), err)
	}
	for i, enc := range encs {
		if want := old["audit"][fmtSeq(i+1)]; string(enc) != string(want) {
			t.Errorf("audit entry %d differs", i+1)
		}
	}
	l, err := audit.Open(ctx, ob, nil)
	if err != nil || l.ID() != string(old["audit-meta"]["log"]) {
		t.Fatalf("audit log: %v (id %q)", err, l.ID())
	}
	if _, err := l.Append(ctx, audit.Entry{Official: "off-7", Step: "signin", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	if n, err := l.Verify(ctx); n != 10 || err != nil {
		t.Fatalf("audit verify: %d %v", n, err)
	}

	// The queue: the same signed frames wait, in order, and drain.
	ents, err := ob.Pending(ctx, 0, 100)
	if err != nil || len(ents) != 18+1 {
		t.Fatalf("pending: %d %v", len(ents), err)
	}
	pub := id.Key.Public().(ed25519.PublicKey)
	var prev envelope.Hash
	for i, e := range ents {
		if e.Seq <= 24 && string(oldFrames[e.Seq]) != string(e.Frame) {
			t.Fatalf("frame %d changed", e.Seq)
		}
		payload, err := envelope.Open(pub, e.Frame)
		if err != nil {
			t.Fatal(err)
		}
		rec, _ := envelope.DecodeRecord(payload)
		if i > 0 && rec.Prev != prev {
			t.Fatalf("chain broken at %d", e.Seq)
		}
		prev = envelope.HashOf(payload)
	}
	if err := ob.Ack(ctx, ents[len(ents)-1].Seq); err != nil || ob.Stats().Depth != 0 {
		t.Fatalf("drain: %v %+v", err, ob.Stats())
	}
	// The flows go on: the payment waiting for the customer is driven (here
	// reversed: its confirmation time is long past).
	svc.PollEvery = 1
	svc.Drive(ctx)
	if ob.Stats().Depth != 1 {
		t.Fatalf("drive after migration: %+v", ob.Stats())
	}

	// Reopened, nothing runs twice; read-only opens work.
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	ob, err = outbox.Open(path, id)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	db, err := outbox.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != outbox.Version {
		t.Fatalf("migrations recorded: %d %v", n, err)
	}
	if n, err := audit.VerifyFile(ctx, path); n != 10 || err != nil {
		t.Fatalf("VerifyFile: %d %v", n, err)
	}
}

func fmtSeq(i int) string {
	b, _ := json.Marshal(i)
	s := string(b)
	for len(s) < 20 {
		s = "0" + s
	}
	return s
}

// TestMigrateHostileLedger: entries the flows could not have written do not
// stop the store from opening; they are kept aside, and the good ones move.
func TestMigrateHostileLedger(t *testing.T) {
	ctx := context.Background()
	b, err := os.ReadFile(filepath.Join("testdata", "release-1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "outbox.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	bad := [][2]string{
		{"payments", "not json"},
		{"payments", `{"status":1,"amount":5,"created":"2026-11-23T10:00:00Z"}`},
		{"payments", `{"status":"approved","amount":5,"created":"yesterday"}`},
		{"payments", `{"status":"approved","amount":5,"created":"2026-11-23T10:00:00Z","refunds":{"n":"1"}}`},
		{"orders", `{"created":3}`},
		{"checkout.days", "\x00"},
		{"eid-act", `{"status":null}`},
		{"eid-officials", `{"salt":"!!","hash":"AA==","iterations":1}`},
		{"eid-officials", `{"salt":"AA==","hash":"AA==","iterations":0}`},
		{"audit", "x"},
		{"other", "v"},
	}
	for i, kv := range bad {
		k := "bad-" + string(rune('a'+i))
		if _, err := db.Exec(`INSERT INTO ledger(bucket, k, v) VALUES(?, ?, ?)`, kv[0], k, []byte(kv[1])); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	ob, err := outbox.Open(path, release1Identity())
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	var moved, kept int
	ob.Reader().QueryRow(`SELECT count(*) FROM payments`).Scan(&moved)
	ob.Reader().QueryRow(`SELECT count(*) FROM ledger_unmigrated`).Scan(&kept)
	if moved != 10 || kept != len(bad) {
		t.Fatalf("%d payments moved (want 10), %d entries kept aside (want %d)", moved, kept, len(bad))
	}
	if n, err := audit.Verify(ctx, ob); n != 9 || err != nil {
		t.Fatalf("audit: %d %v", n, err)
	}
	if err := (&counter.Officials{Store: ob}).Check(ctx, "off-7", "482913"); err != nil {
		t.Fatal(err)
	}
}
