package link_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
)

// fleet is one device whose store can be closed, deleted, copied and
// restored between runs, beside a platform and a real Mosquitto.
type fleet struct {
	broker  *brokertest.Mosquitto
	store   *platform.Store
	platKey ed25519.PrivateKey
	devKey  ed25519.PrivateKey
	path    string // the device's outbox.db
	ob      *outbox.Store
	lk      *link.Link
	stopLk  func()
	stopPl  func()
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{broker: brokertest.StartMosquitto(t)}
	dir := t.TempDir()
	_, f.platKey, _ = ed25519.GenerateKey(nil)
	_, f.devKey, _ = ed25519.GenerateKey(nil)
	var err error
	if f.store, err = platform.OpenStore(filepath.Join(dir, "platform.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	if err := f.store.Enrol(context.Background(), "t1", "d1", f.devKey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	f.path = filepath.Join(dir, "device", "outbox.db")
	t.Cleanup(func() { f.stopDevice(); f.stopPlatform() })
	return f
}

func (f *fleet) startPlatform() {
	srv := platform.NewServer(platform.ServerConfig{Instance: "p1", Brokers: []string{f.broker.URL()}, Key: f.platKey,
		BatchMax: 500, BatchDelay: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, f.store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Run(ctx) }()
	f.stopPl = func() { cancel(); wg.Wait() }
}

func (f *fleet) stopPlatform() {
	if f.stopPl != nil {
		f.stopPl()
		f.stopPl = nil
	}
}

// startDevice opens the store at f.path, as the daemon does at boot, and
// runs its link.
func (f *fleet) startDevice(t *testing.T) {
	t.Helper()
	var err error
	if f.ob, err = outbox.Open(f.path, outbox.Identity{Tenant: "t1", Device: "d1", Key: f.devKey}); err != nil {
		t.Fatal(err)
	}
	f.lk, err = link.New(link.Config{Tenant: "t1", Device: "d1", Brokers: []string{f.broker.URL()},
		PlatformKey: f.platKey.Public().(ed25519.PublicKey), Window: 200, AckTimeout: time.Second,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, KeepAlive: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, f.ob)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.lk.Run(ctx) }()
	f.stopLk = func() { cancel(); wg.Wait(); f.ob.Close() }
}

func (f *fleet) stopDevice() {
	if f.stopLk != nil {
		f.stopLk()
		f.stopLk = nil
	}
}

// pay takes n payments: each reported stored once Append returns.
func (f *fleet) pay(t *testing.T, n int, prefix string) []string {
	t.Helper()
	var keys []string
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := f.ob.Append(context.Background(), outbox.Record{Key: k, Type: "payment.auth", Body: []byte(`{"amount":100}`)}); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

func (f *fleet) drained(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if f.ob.Stats().Depth == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("outbox not drained: %+v, link %+v", f.ob.Stats(), f.lk.Status())
}

// checkOnce checks that the platform applied every key reported stored
// exactly once, and nothing else.
func (f *fleet) checkOnce(t *testing.T, stored []string) {
	t.Helper()
	recs, err := f.store.Records(context.Background(), "t1", "d1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range recs {
		got[r.Key]++
	}
	for _, k := range stored {
		if got[k] != 1 {
			t.Errorf("payment %s applied %d times, want once", k, got[k])
		}
		delete(got, k)
	}
	for k, n := range got {
		t.Errorf("payment %s applied %d times, never reported stored", k, n)
	}
}

func (f *fleet) deviceStats(t *testing.T) platform.DeviceStats {
	st, err := f.store.Stats(context.Background())
	if err != nil || len(st) != 1 {
		t.Fatalf("stats %+v %v", st, err)
	}
	return st[0]
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// removeStore deletes the database and its WAL, as a technician's rm
// outbox.db* would.
func removeStore(t *testing.T, path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// (a) outbox.db deleted, the device key kept: the new store numbers from
// 1 under a new identity, and its payments are applied, not taken for
// duplicates and forgotten.
func TestDeletedStoreLosesNothing(t *testing.T) {
	f := newFleet(t)
	f.startPlatform()
	f.startDevice(t)
	stored := f.pay(t, 40, "before")
	f.drained(t)
	first := f.ob.Identity()
	f.stopDevice()
	removeStore(t, f.path)

	f.startDevice(t)
	if f.ob.Identity() == first {
		t.Fatal("a new store has the deleted one's identity")
	}
	stored = append(stored, f.pay(t, 40, "after")...)
	f.drained(t)
	f.checkOnce(t, stored)
	if st := f.deviceStats(t); st.Outboxes != 2 || st.IdentityChanges != 1 || st.Duplicates != 0 {
		t.Fatalf("platform stats %+v", st)
	}
}

// (b) yesterday's copy restored: the copy holds payments not yet acked,
// and the live store went on numbering after it. Once restored, the
// device takes more payments under numbers the platform holds others for.
func TestRestoredCopyLosesNothing(t *testing.T) {
	f := newFleet(t)
	f.startPlatform()
	f.startDevice(t)
	stored := f.pay(t, 30, "day1")
	f.drained(t)
	// Platform unreachable for a while: payments wait in the store.
	f.stopPlatform()
	stored = append(stored, f.pay(t, 10, "waiting")...)
	f.stopDevice()
	backup := f.path + ".yesterday"
	copyFile(t, f.path, backup)

	f.startPlatform()
	f.startDevice(t)
	stored = append(stored, f.pay(t, 20, "day2")...)
	f.drained(t)
	f.stopDevice()

	removeStore(t, f.path)
	copyFile(t, backup, f.path)
	f.startDevice(t)
	if st := f.ob.Stats(); st.Depth != 10 {
		t.Fatalf("restored copy: %+v", st)
	}
	stored = append(stored, f.pay(t, 10, "day3")...)
	f.drained(t)
	f.checkOnce(t, stored)
	if f.lk.Status().Rekeys == 0 {
		t.Fatalf("the restored store never rekeyed: %+v", f.lk.Status())
	}
	if st := f.deviceStats(t); st.Outboxes != 2 || st.IdentityChanges != 1 {
		t.Fatalf("platform stats %+v", st)
	}
}

// (d) a conflict: a drained copy restored, then payments under numbers
// the platform holds other records for. The first one the platform sees
// is refused as a conflict, and the device recovers by rekeying.
func TestConflictRecoveredByRekey(t *testing.T) {
	f := newFleet(t)
	f.startPlatform()
	f.startDevice(t)
	stored := f.pay(t, 10, "a")
	f.drained(t)
	f.stopDevice()
	backup := f.path + ".copy"
	copyFile(t, f.path, backup)
	f.startDevice(t)
	stored = append(stored, f.pay(t, 10, "b")...)
	f.drained(t)
	f.stopDevice()

	removeStore(t, f.path)
	copyFile(t, backup, f.path)
	f.startDevice(t)
	old := f.ob.Identity()
	stored = append(stored, f.pay(t, 10, "c")...) // seq 11..20 again
	f.drained(t)
	f.checkOnce(t, stored)
	if f.ob.Identity() == old {
		t.Fatal("identity unchanged")
	}
	st := f.deviceStats(t)
	if st.Conflicts == 0 || st.Outboxes != 2 {
		t.Fatalf("platform stats %+v", st)
	}
	ev, _ := f.store.Events(context.Background(), 10)
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	if len(kinds) < 2 || kinds[0] != platform.EventConflict || kinds[len(kinds)-1] != platform.EventNewOutbox {
		t.Fatalf("events %v", kinds)
	}
	aud, _ := f.ob.Audit(context.Background())
	if len(aud) != 1 || aud[0].Event != "rekey" || aud[0].Outbox != old {
		t.Fatalf("device audit %+v", aud)
	}
}

// (c) a damaged meta row: Open fails closed, naming it; nothing is sent
// or acked from the damaged store; once the row is put right, the waiting
// payments go up once each.
func TestDamagedMetaFailsClosed(t *testing.T) {
	f := newFleet(t)
	f.startPlatform()
	f.startDevice(t)
	stored := f.pay(t, 20, "a")
	f.drained(t)
	f.stopPlatform()
	stored = append(stored, f.pay(t, 5, "waiting")...)
	f.stopDevice()

	db, err := sql.Open("sqlite", "file:"+f.path)
	if err != nil {
		t.Fatal(err)
	}
	var good []byte
	if err := db.QueryRow(`SELECT v FROM meta WHERE k='last_seq'`).Scan(&good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{{}, {1}, []byte("\x00\x00\x00\x00\x00\x00\x00\x01")} {
		if _, err := db.Exec(`UPDATE meta SET v=? WHERE k='last_seq'`, bad); err != nil {
			t.Fatal(err)
		}
		ob, err := outbox.Open(f.path, outbox.Identity{Tenant: "t1", Device: "d1", Key: f.devKey})
		if err == nil {
			st := ob.Stats()
			ob.Close()
			t.Fatalf("last_seq %x: store opened, %+v", bad, st)
		}
		if !errors.Is(err, outbox.ErrDamaged) {
			t.Fatalf("last_seq %x: %v, want ErrDamaged", bad, err)
		}
		t.Logf("last_seq %x: %v", bad, err)
	}
	var waiting int
	db.QueryRow(`SELECT count(*) FROM outbox`).Scan(&waiting)
	if waiting != 5 {
		t.Fatalf("the damaged store lost records: %d waiting", waiting)
	}
	if _, err := db.Exec(`UPDATE meta SET v=? WHERE k='last_seq'`, good); err != nil {
		t.Fatal(err)
	}
	db.Close()

	f.startPlatform()
	f.startDevice(t)
	f.drained(t)
	f.checkOnce(t, stored)
}

// (e) a rejected record (its chain link is wrong) blocks the queue; the
// platform says why, the device keeps it and shows the queue blocked;
// the operator's skip_rejected moves past it, with an audit entry on
// both sides, and the records after it, which chain to it, go through.
func TestSkipRejectedMovesPastABrokenLink(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t)
	f.startDevice(t)
	stored := f.pay(t, 3, "a")
	f.stopDevice()
	breakLink(t, f.path, f.devKey, 2)

	f.startPlatform()
	f.startDevice(t)
	deadline := time.Now().Add(30 * time.Second)
	for f.ob.Stats().Blocked == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("never blocked: %+v", f.ob.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
	rej, err := f.ob.Rejections(ctx)
	if err != nil || len(rej) != 1 || rej[0].Seq != 2 || rej[0].Code != envelope.RejectChain {
		t.Fatalf("rejections %+v %v", rej, err)
	}
	more := f.pay(t, 2, "b")
	time.Sleep(500 * time.Millisecond) // long enough for the platform to have answered, were the queue moving
	if st := f.ob.Stats(); st.Acked != 1 || st.Depth != 4 {
		t.Fatalf("the queue moved past a rejected record: %+v", st)
	}
	if st := f.deviceStats(t); st.Blocked != 1 {
		t.Fatalf("platform stats %+v", st)
	}

	// The operator, as guichet-platform push does: record, then send.
	args, _ := json.Marshal(envelope.SkipRejected{Outbox: rej[0].Outbox, Seq: 2, Reason: "record edited on the device, ticket 42"})
	cmd := envelope.Command{Tenant: "t1", Device: "d1", ID: platform.NewCommandID(), Name: envelope.CommandSkipRejected, Args: args}
	if err := f.store.RecordSkip(ctx, "t1", "d1", rej[0].Outbox, 2, "record edited on the device, ticket 42", cmd.ID); err != nil {
		t.Fatal(err)
	}
	res, err := platform.Push(ctx, platform.PublishConfig{Brokers: []string{f.broker.URL()}, Key: f.platKey}, f.store, &cmd, false, 20*time.Second)
	if err != nil || res.Report == nil || res.Report.Status != envelope.StatusApplied {
		t.Fatalf("push: %+v %v", res, err)
	}
	f.drained(t)
	stored = append(stored[:1], stored[2:]...) // a-1 is skipped, never applied
	f.checkOnce(t, append(stored, more...))
	if st := f.ob.Stats(); st.Blocked != 0 {
		t.Fatalf("still blocked: %+v", st)
	}
	aud, _ := f.ob.Audit(ctx)
	if len(aud) != 2 || aud[0].Event != "rejected" || aud[1].Event != "skip" || aud[1].Seq != 2 {
		t.Fatalf("device audit %+v", aud)
	}
	var skipped string
	if err := f.ob.Reader().QueryRow(`SELECT key FROM skipped WHERE seq=2`).Scan(&skipped); err != nil || skipped != "a-1" {
		t.Fatalf("skipped table: %q %v", skipped, err)
	}
	ev, _ := f.store.Events(ctx, 10)
	if len(ev) != 1 || ev[0].Kind != platform.EventSkip || ev[0].Seq != 2 {
		t.Fatalf("platform events %+v", ev)
	}
	if st := f.deviceStats(t); st.Blocked != 0 || st.Skips != 1 {
		t.Fatalf("platform stats %+v", st)
	}
}

// breakLink rewrites record seq of the store at path with a wrong prev
// hash, signed with the device's key (a bug, or an edit, on the device),
// and chains the records after it to the rewritten one, as the store
// would have.
func breakLink(t *testing.T, path string, key ed25519.PrivateKey, seq uint64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT seq, frame FROM outbox WHERE seq >= ? ORDER BY seq`, seq)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		seq   uint64
		frame []byte
	}
	var rs []row
	for rows.Next() {
		var r row
		rows.Scan(&r.seq, &r.frame)
		rs = append(rs, r)
	}
	rows.Close()
	var prev envelope.Hash
	for i, r := range rs {
		p, _, _ := envelope.Split(r.frame)
		var rec envelope.Record
		if err := json.Unmarshal(p, &rec); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			rec.Prev = envelope.Hash{0xba, 0xd}
		} else {
			rec.Prev = prev
		}
		p, _ = json.Marshal(rec)
		prev = envelope.HashOf(p)
		if _, err := db.Exec(`UPDATE outbox SET frame=? WHERE seq=?`, envelope.Seal(key, p), r.seq); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`UPDATE meta SET v=? WHERE k='last_hash'`, prev[:]); err != nil {
		t.Fatal(err)
	}
}
