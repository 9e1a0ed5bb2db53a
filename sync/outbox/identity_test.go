package outbox

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/sync/envelope"
)

func appendN(t *testing.T, s *Store, n int, prefix string) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := s.Append(context.Background(), Record{Key: fmt.Sprintf("%s-%d", prefix, i), Type: "test", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
}

// chainOf decodes the waiting records and checks that they chain, under
// one identity, from after..last.
func chainOf(t *testing.T, s *Store) []*envelope.Record {
	t.Helper()
	ents, err := s.Pending(context.Background(), 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var out []*envelope.Record
	var prev envelope.Hash
	for i, e := range ents {
		p, err := envelope.Open(s.id.Key.Public().(ed25519.PublicKey), e.Frame)
		if err != nil {
			t.Fatal(err)
		}
		r, err := envelope.DecodeRecord(p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Outbox != s.Identity() || r.Seq != e.Seq {
			t.Fatalf("record %d: outbox %s seq %d, store %s entry %d", i, r.Outbox, r.Seq, s.Identity(), e.Seq)
		}
		if i > 0 && r.Prev != prev {
			t.Fatalf("record %d does not chain", r.Seq)
		}
		prev = envelope.HashOf(p)
		out = append(out, r)
	}
	return out
}

func TestNewStoreHasAnIdentity(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t)
	a, err := Open(filepath.Join(dir, "a.db"), id)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(filepath.Join(dir, "b.db"), id)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Identity().IsZero() || a.Identity() == b.Identity() {
		t.Fatalf("identities %s and %s", a.Identity(), b.Identity())
	}
	appendN(t, a, 3, "k")
	if recs := chainOf(t, a); len(recs) != 3 || recs[0].Outbox != a.Identity() {
		t.Fatalf("records %+v", recs)
	}
	if st := a.Stats(); st.Outbox != a.Identity().String() {
		t.Fatalf("stats %+v", st)
	}
	// The identity survives a reopen.
	want := a.Identity()
	a.Close()
	a, err = Open(filepath.Join(dir, "a.db"), id)
	if err != nil {
		t.Fatal(err)
	}
	if a.Identity() != want || a.Stats().LastSeq != 3 {
		t.Fatalf("reopened: %s %+v", a.Identity(), a.Stats())
	}
}

func TestRekeyRenumbersWaitingRecords(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "o.db"), testIdentity(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendN(t, s, 10, "k")
	if err := s.Ack(ctx, 4); err != nil {
		t.Fatal(err)
	}
	old := s.Identity()
	id, err := s.Rekey(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if id == old || s.Identity() != id {
		t.Fatalf("identity %s after rekey from %s (returned %s)", s.Identity(), old, id)
	}
	if st := s.Stats(); st.LastSeq != 6 || st.Acked != 0 || st.Depth != 6 {
		t.Fatalf("stats after rekey %+v", st)
	}
	recs := chainOf(t, s)
	if len(recs) != 6 || recs[0].Seq != 1 || recs[0].Prev != (envelope.Hash{}) || recs[0].Key != "k-4" || recs[5].Key != "k-9" {
		t.Fatalf("renumbered %d records, first %+v", len(recs), recs[0])
	}
	// Appends go on in the new numbering.
	appendN(t, s, 1, "after")
	if recs := chainOf(t, s); len(recs) != 7 || recs[6].Key != "after-0" {
		t.Fatalf("after append: %d records", len(recs))
	}
	aud, err := s.Audit(ctx)
	if err != nil || len(aud) != 1 || aud[0].Event != "rekey" || aud[0].Outbox != old {
		t.Fatalf("audit %+v %v", aud, err)
	}
}

func TestSkipRejected(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "o.db"), testIdentity(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendN(t, s, 5, "k")
	if err := s.Ack(ctx, 2); err != nil {
		t.Fatal(err)
	}
	id := s.Identity()
	other, _ := envelope.NewOutboxID()
	// Rejections for another identity, or for a conflict, are not kept.
	s.NoteRejections(ctx, other, []envelope.Reject{{Seq: 3, Reason: "x", Code: envelope.RejectChain}})
	s.NoteRejections(ctx, id, []envelope.Reject{{Seq: 3, Reason: "c", Code: envelope.RejectConflict}})
	if st := s.Stats(); st.Blocked != 0 {
		t.Fatalf("blocked %d", st.Blocked)
	}
	if err := s.NoteRejections(ctx, id, []envelope.Reject{{Seq: 3, Reason: "chain broken", Code: envelope.RejectChain}}); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Blocked != 1 {
		t.Fatalf("blocked %d, want 1", st.Blocked)
	}
	rej, err := s.Rejections(ctx)
	if err != nil || len(rej) != 1 || rej[0].Seq != 3 || rej[0].Reason != "chain broken" {
		t.Fatalf("rejections %+v %v", rej, err)
	}
	// Only the head of the queue can be skipped.
	if err := s.SkipRejected(ctx, id, 4, "r", "c1"); !errors.Is(err, ErrNotHead) {
		t.Fatalf("skip behind the head: %v", err)
	}
	if err := s.SkipRejected(ctx, other, 3, "r", "c1"); err == nil {
		t.Fatal("skip under another identity accepted")
	}
	if err := s.SkipRejected(ctx, id, 3, "edited record, ticket 7", "c1"); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Acked != 3 || st.Depth != 2 || st.Blocked != 0 {
		t.Fatalf("after skip %+v", st)
	}
	if ents, _ := s.Pending(ctx, 0, 10); len(ents) != 2 || ents[0].Seq != 4 {
		t.Fatalf("pending after skip %+v", ents)
	}
	// Again (the command delivered twice): nothing more happens.
	if err := s.SkipRejected(ctx, id, 3, "again", "c1"); err != nil {
		t.Fatal(err)
	}
	var n int
	var reason string
	if err := s.Reader().QueryRow(`SELECT count(*), max(reason) FROM skipped`).Scan(&n, &reason); err != nil || n != 1 || reason != "edited record, ticket 7" {
		t.Fatalf("skipped table: %d %q %v", n, reason, err)
	}
	aud, _ := s.Audit(ctx)
	if len(aud) != 2 || aud[0].Event != "rejected" || aud[1].Event != "skip" || aud[1].Seq != 3 || !strings.Contains(aud[1].Detail, "ticket 7") {
		t.Fatalf("audit %+v", aud)
	}
}

func TestDamagedMetaFailsClosed(t *testing.T) {
	id := testIdentity(t)
	tests := []struct {
		name, sql, want string
	}{
		{"last_seq truncated", `UPDATE meta SET v=x'01' WHERE k='last_seq'`, `"last_seq" holds 1 bytes`},
		{"last_seq deleted", `DELETE FROM meta WHERE k='last_seq'`, `"last_seq" missing`},
		{"last_seq behind the queue", `UPDATE meta SET v=x'0000000000000002' WHERE k='last_seq'`, "the queue holds records"},
		{"acked beyond last", `UPDATE meta SET v=x'00000000000000ff' WHERE k='acked'`, "beyond last_seq"},
		{"acked garbage", `UPDATE meta SET v='garbage!!' WHERE k='acked'`, `"acked" holds 9 bytes`},
		{"identity deleted", `DELETE FROM meta WHERE k='outbox_id'`, `"outbox_id" missing`},
		{"identity short", `UPDATE meta SET v=x'0102' WHERE k='outbox_id'`, `"outbox_id" missing or not 16 bytes`},
		{"last_hash deleted", `DELETE FROM meta WHERE k='last_hash'`, `"last_hash" missing`},
		{"device deleted", `DELETE FROM meta WHERE k='device'`, `"device" missing`},
		{"every meta row deleted", `DELETE FROM meta`, `"outbox_id" missing`},
		{"a record deleted", `DELETE FROM outbox WHERE seq=4`, "the queue holds 4 records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "o.db")
			s, err := Open(path, id)
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, s, 6, "k")
			if err := s.Ack(context.Background(), 1); err != nil {
				t.Fatal(err)
			}
			s.Close()
			db, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tt.sql); err != nil {
				t.Fatal(err)
			}
			db.Close()
			s, err = Open(path, id)
			if err == nil {
				s.Close()
				t.Fatalf("damaged store opened: %+v", s.Stats())
			}
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrDamaged saying %q", err, tt.want)
			}
		})
	}
}

func TestRelease1StoreTakesAnIdentityWhenEmpty(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "o.db")
	id := testIdentity(t)
	s, err := Open(path, id)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 3, "k")
	s.Close()
	// Made to look like a migrated release-1 store: zero identity.
	db, _ := sql.Open("sqlite", "file:"+path)
	if _, err := db.Exec(`UPDATE meta SET v=zeroblob(16) WHERE k='outbox_id'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = Open(path, id)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Identity().IsZero() || s.Stats().LastSeq != 3 {
		t.Fatalf("release-1 store with waiting records: %s %+v", s.Identity(), s.Stats())
	}
	appendN(t, s, 1, "more")
	ents, err := s.Pending(ctx, 3, 10)
	if err != nil || len(ents) != 1 {
		t.Fatalf("pending %+v %v", ents, err)
	}
	p, _, _ := envelope.Split(ents[0].Frame)
	if r, err := envelope.DecodeRecord(p); err != nil || !r.Outbox.IsZero() || r.Seq != 4 {
		t.Fatalf("release-1 stream does not go on: %+v %v", r, err)
	}
	if err := s.Ack(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if s.Identity().IsZero() {
		t.Fatal("queue empty, identity still zero")
	}
	if st := s.Stats(); st.LastSeq != 0 || st.Acked != 0 {
		t.Fatalf("stats %+v", st)
	}
	appendN(t, s, 1, "new")
	if recs := chainOf(t, s); len(recs) != 1 || recs[0].Seq != 1 || recs[0].Outbox != s.Identity() || recs[0].Prev != (envelope.Hash{}) {
		t.Fatalf("new stream: %+v", recs)
	}
}
