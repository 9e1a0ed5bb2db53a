package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

func openStore(t testing.TB) *outbox.Store {
	t.Helper()
	_, k, _ := ed25519.GenerateKey(nil)
	s, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Identity{Tenant: "t1", Device: "d1", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fill(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := l.Append(context.Background(), Entry{Official: "off-7", Step: "card_read", Outcome: "ok", Activation: "act-1"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAppendVerifyAndUpstream(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	l, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, 5)
	if n, err := l.Verify(ctx); n != 5 || err != nil {
		t.Fatalf("Verify: %d %v", n, err)
	}
	// Reopened, the log goes on from its tail.
	l2, err := Open(ctx, s, nil)
	if err != nil || l2.ID() != l.ID() {
		t.Fatalf("reopen: %v", err)
	}
	e, err := l2.Append(ctx, Entry{Official: "off-7", Step: "signout", Outcome: "ok"})
	if err != nil || e.Seq != 6 {
		t.Fatalf("append after reopen: %+v %v", e, err)
	}
	if n, err := l2.Verify(ctx); n != 6 || err != nil {
		t.Fatalf("Verify: %d %v", n, err)
	}
	// Every entry also went to the platform, and the copies chain.
	pend, err := s.Pending(ctx, 0, 100)
	if err != nil || len(pend) != 6 {
		t.Fatalf("pending %d %v", len(pend), err)
	}
	var up [][]byte
	for _, p := range pend {
		payload, _, err := envelope.Split(p.Frame)
		if err != nil {
			t.Fatal(err)
		}
		r, err := envelope.DecodeRecord(payload)
		if err != nil || r.Type != RecordType || !strings.HasPrefix(r.Key, "audit-"+l.ID()+"-") {
			t.Fatalf("record %+v %v", r, err)
		}
		up = append(up, r.Body)
	}
	if err := VerifyChain(up); err != nil {
		t.Fatalf("upstream copy: %v", err)
	}
	// Entries cannot carry free text.
	if _, err := l.Append(ctx, Entry{Step: "refuse", Outcome: "ok", Reason: "Mr Dupont looked odd"}); !errors.Is(err, ErrEntry) {
		t.Fatalf("free-text reason: %v", err)
	}
}

func TestVerifyFindsTampering(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		tamper func(t *testing.T, s *outbox.Store)
		at     uint64
	}{
		"edited": {func(t *testing.T, s *outbox.Store) {
			v, _, _ := get(s, 3)
			v = bytes.Replace(v, []byte(`"ok"`), []byte(`"no"`), 1)
			put(t, s, 3, v)
		}, 4},
		"edited and rehashed forward": {func(t *testing.T, s *outbox.Store) {
			v, _, _ := get(s, 3)
			e, _ := Decode(v)
			e.Official = "off-9"
			enc, _ := e.Encode()
			put(t, s, 3, enc)
			n, _, _ := get(s, 4)
			e4, _ := Decode(n)
			e4.Prev = HashOf(enc)
			enc4, _ := e4.Encode()
			put(t, s, 4, enc4)
		}, 5},
		"removed": {func(t *testing.T, s *outbox.Store) {
			put(t, s, 2, nil)
		}, 2},
		"removed and renumbered": {func(t *testing.T, s *outbox.Store) {
			for i := uint64(2); i < 5; i++ {
				v, _, _ := get(s, i+1)
				put(t, s, i, v)
			}
			put(t, s, 5, nil)
		}, 2},
		"reordered": {func(t *testing.T, s *outbox.Store) {
			a, _, _ := get(s, 2)
			b, _, _ := get(s, 3)
			put(t, s, 2, b)
			put(t, s, 3, a)
		}, 2},
		"garbage": {func(t *testing.T, s *outbox.Store) {
			put(t, s, 1, []byte("\x00junk"))
		}, 1},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := openStore(t)
			l, err := Open(ctx, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			fill(t, l, 5)
			c.tamper(t, s)
			_, err = l.Verify(ctx)
			var be *BreakError
			if !errors.As(err, &be) || be.Seq != c.at {
				t.Fatalf("Verify: %v, want a break at %d", err, c.at)
			}
		})
	}
}

// get reads the entry seq as stored, for the tests to tamper with.
func get(s *outbox.Store, seq uint64) ([]byte, bool, error) {
	var v []byte
	err := s.Reader().QueryRow(`SELECT entry FROM audit WHERE seq = ?`, seq).Scan(&v)
	return v, err == nil, err
}

// put overwrites the entry seq (nil removes it), as a tamperer would.
func put(t *testing.T, s *outbox.Store, seq uint64, v []byte) {
	t.Helper()
	err := s.Update(context.Background(), func(tx *sql.Tx) error {
		if v == nil {
			_, err := tx.Exec(`DELETE FROM audit WHERE seq = ?`, seq)
			return err
		}
		_, err := tx.Exec(`INSERT INTO audit(seq, entry) VALUES(?, ?) ON CONFLICT(seq) DO UPDATE SET entry = excluded.entry`, seq, v)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDecodeHostile(t *testing.T) {
	good, err := (&Entry{Seq: 1, At: time.Now().UnixMilli(), Log: "ab", Step: "s", Outcome: "ok"}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 10<<20)
	rand.Read(junk)
	for name, b := range map[string][]byte{
		"empty":         nil,
		"truncated":     good[:len(good)/2],
		"10 MB junk":    junk,
		"oversized":     append([]byte(`{"seq":1,"log":"a","step":"s","outcome":"o","official":"`), bytes.Repeat([]byte("a"), MaxEntry)...),
		"unknown field": []byte(`{"seq":1,"log":"a","step":"s","outcome":"o","name":"DUPONT"}`),
		"trailing":      append(bytes.Clone(good), good...),
		"seq 0":         []byte(`{"seq":0,"log":"a","step":"s","outcome":"o"}`),
		"free text":     []byte(`{"seq":1,"log":"a","step":"s","outcome":"o","reason":"a b"}`),
		"long name":     []byte(`{"seq":1,"log":"a","step":"` + strings.Repeat("s", 65) + `","outcome":"o"}`),
		"bad prev":      []byte(`{"seq":1,"log":"a","step":"s","outcome":"o","prev":"zz"}`),
		"array":         []byte(`[1,2]`),
		"utf-16":        []byte("\xff\xfe{\x00}\x00"),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrEntry) {
			t.Errorf("%s: %v, want ErrEntry", name, err)
		}
	}
	if _, err := Decode(good); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := (&Entry{Seq: 3, At: 1, Log: "ab", Official: "o1", Step: "match", Outcome: "ok", Score: 0.5}).Encode()
	f.Add(good)
	f.Add([]byte(`{"seq":1}`))
	f.Add([]byte(`{"seq":1,"log":"a","step":"s","outcome":"o","prev":"00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrEntry) {
				t.Fatalf("error does not wrap ErrEntry: %v", err)
			}
			return
		}
		enc, err := e.Encode()
		if err != nil {
			t.Fatalf("decoded entry does not encode: %v", err)
		}
		e2, err := Decode(enc)
		if err != nil || *e2 != *e {
			t.Fatalf("round trip: %+v %v", e2, err)
		}
	})
}

func TestVerifyFile(t *testing.T) {
	ctx := context.Background()
	_, k, _ := ed25519.GenerateKey(nil)
	path := filepath.Join(t.TempDir(), "outbox.db")
	s, err := outbox.Open(path, outbox.Identity{Tenant: "t1", Device: "d1", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, 4)
	// Read while the outbox is open, as the technician does beside the
	// daemon.
	if n, err := VerifyFile(ctx, path); n != 4 || err != nil {
		t.Fatalf("VerifyFile: %d %v", n, err)
	}
	put(t, s, 2, nil)
	var be *BreakError
	if _, err := VerifyFile(ctx, path); !errors.As(err, &be) || be.Seq != 2 {
		t.Fatalf("VerifyFile after a removal: %v", err)
	}
	if _, err := VerifyFile(ctx, filepath.Join(t.TempDir(), "none.db")); err == nil {
		t.Fatal("missing file verified")
	}
	// An entry of another log spliced in breaks the chain.
	other := openStore(t)
	l2, _ := Open(ctx, other, nil)
	fill(t, l2, 1)
	s2 := openStore(t)
	l3, _ := Open(ctx, s2, nil)
	fill(t, l3, 1)
	v, _, _ := get(other, 1)
	e, _ := Decode(v)
	w, _, _ := get(s2, 1)
	e.Prev = HashOf(w)
	e.Seq = 2
	enc, _ := e.Encode()
	put(t, s2, 2, enc)
	if _, err := Verify(ctx, s2); !errors.As(err, &be) || be.Seq != 2 {
		t.Fatalf("foreign entry: %v", err)
	}
}

func TestReconcileWithUpstream(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	l, err := Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, 5)
	pend, err := s.Pending(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var up [][]byte
	for _, p := range pend {
		payload, _, _ := envelope.Split(p.Frame)
		r, _ := envelope.DecodeRecord(payload)
		up = append(up, r.Body)
	}
	local, _ := Entries(ctx, s)
	if err := Reconcile(local, up); err != nil {
		t.Fatalf("intact log: %v", err)
	}
	if err := Reconcile(local, up[:3]); err != nil {
		t.Fatalf("entries not yet upstream: %v", err)
	}
	// The last two entries removed: the local chain is still whole, the
	// platform's copy shows the removal.
	put(t, s, 5, nil)
	put(t, s, 4, nil)
	if n, err := l.Verify(ctx); err != nil || n != 3 {
		t.Fatalf("truncated log verifies locally: %d %v", n, err)
	}
	local, _ = Entries(ctx, s)
	var be *BreakError
	if err := Reconcile(local, up); !errors.As(err, &be) || be.Seq != 4 {
		t.Fatalf("Reconcile after truncation: %v", err)
	}
	// Entry 2 rewritten and the rest re-chained: locally consistent,
	// upstream it differs.
	var prev Hash
	for i := range local {
		e, _ := Decode(local[i])
		if i == 1 {
			e.Outcome = "failed"
		}
		e.Prev = prev
		local[i], _ = e.Encode()
		prev = HashOf(local[i])
	}
	if err := VerifyChain(local); err != nil {
		t.Fatal(err)
	}
	if err := Reconcile(local, up[:3]); !errors.As(err, &be) || be.Seq != 2 {
		t.Fatalf("Reconcile after rewrite: %v", err)
	}
}
