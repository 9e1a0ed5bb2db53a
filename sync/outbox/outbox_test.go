package outbox

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/guichet/guichet/sync/envelope"
)

func testIdentity(t testing.TB) Identity {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = pub
	return Identity{Tenant: "t1", Device: "d1", Key: priv}
}

func TestAppendChainsAndSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	id := testIdentity(t)
	s, err := Open(path, id)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				k := fmt.Sprintf("%d-%d", w, i)
				_, err := s.Append(ctx, Record{Key: "k-" + k, Type: "test", Body: []byte(`{"n":1}`),
					Write: func(tx *sql.Tx) error {
						_, err := tx.Exec(`INSERT INTO settings(k,v) VALUES(?,'v')`, k)
						return err
					}})
				if err != nil {
					t.Error(err)
				}
			}
		}(w)
	}
	wg.Wait()
	if st := s.Stats(); st.LastSeq != 200 || st.Depth != 200 {
		t.Fatalf("stats = %+v, want 200 records", st)
	}
	// Same key again: the waiting entry, no new record.
	e, err := s.Append(ctx, Record{Key: "k-0-0", Type: "test", Body: []byte(`{}`)})
	if err != nil || !e.Existing || s.Stats().LastSeq != 200 {
		t.Fatalf("re-append: %+v %v %+v", e, err, s.Stats())
	}
	if err := s.Ack(ctx, 50); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, id)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Stats(); st.LastSeq != 200 || st.Acked != 50 || st.Depth != 150 {
		t.Fatalf("after reopen: %+v", st)
	}
	ents, err := s.Pending(ctx, 0, 1000)
	if err != nil || len(ents) != 150 || ents[0].Seq != 51 {
		t.Fatalf("pending: %d entries, err %v", len(ents), err)
	}
	// The chain is unbroken and every frame is signed by the device.
	pub := id.Key.Public().(ed25519.PublicKey)
	var prev envelope.Hash
	for i, e := range ents {
		payload, err := envelope.Open(pub, e.Frame)
		if err != nil {
			t.Fatal(err)
		}
		r, err := envelope.DecodeRecord(payload)
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != e.Seq {
			t.Fatalf("seq %d in frame, %d in store", r.Seq, e.Seq)
		}
		if i > 0 && r.Prev != prev {
			t.Fatalf("chain broken at %d", r.Seq)
		}
		prev = envelope.HashOf(payload)
	}
	n := 0
	if err := s.Reader().QueryRowContext(ctx, `SELECT count(*) FROM settings`).Scan(&n); err != nil || n != 200 {
		t.Fatalf("rows written with the records: %d, %v", n, err)
	}
	// The next record chains on the last one written before the reopen.
	e, err = s.Append(ctx, Record{Key: "after", Type: "test", Body: []byte(`{}`)})
	if err != nil || e.Seq != 201 {
		t.Fatalf("append after reopen: %+v %v", e, err)
	}
	r, _ := envelope.DecodeRecord(mustPayload(e.Frame))
	if r.Prev != prev || r.Boot != 2 {
		t.Fatalf("chain across reopen broken (boot %d)", r.Boot)
	}
}

func TestRefusesBadInput(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "o.db"), testIdentity(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Append(ctx, Record{Key: "", Type: "x", Body: []byte(`{}`)}); err == nil {
		t.Error("empty key accepted")
	}
	if _, err := s.Append(ctx, Record{Key: "k", Type: "x", Body: []byte(`{not json`)}); err == nil {
		t.Error("bad body accepted")
	}
	if err := s.Ack(ctx, 5); err == nil {
		t.Error("ack beyond last record accepted")
	}
}

func TestOtherDevicesStoreRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "o.db")
	id := testIdentity(t)
	s, err := Open(path, id)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	id.Device = "d2"
	if s, err := Open(path, id); err == nil {
		s.Close()
		t.Fatal("store of d1 opened as d2")
	}
}

func TestFailingWriteFailsOnlyItsRequest(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "outbox.db"), testIdentity(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(k string) func(*sql.Tx) error {
		return func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO settings(k,v) VALUES(?,'v')`, k)
			return err
		}
	}
	bad := errors.New("flow refused")
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k := fmt.Sprintf("k%d", i)
			w := put(k)
			switch i % 4 {
			case 1: // the write fails after writing: nothing of it stays
				w = func(tx *sql.Tx) error { put(k)(tx); return bad }
			case 2:
				w = func(tx *sql.Tx) error { panic("flow bug") }
			}
			if i%8 == 3 {
				errs[i] = s.Update(ctx, w)
				return
			}
			_, errs[i] = s.Append(ctx, Record{Key: k, Type: "test", Body: []byte(`{}`), Write: w})
		}(i)
	}
	wg.Wait()
	want := 0
	for i, err := range errs {
		switch i % 4 {
		case 1:
			if !errors.Is(err, bad) {
				t.Errorf("request %d: %v, want the write's error", i, err)
			}
		case 2:
			if err == nil {
				t.Errorf("request %d: panicking write succeeded", i)
			}
		default:
			want++
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		}
	}
	var rows int
	s.Reader().QueryRow(`SELECT count(*) FROM settings`).Scan(&rows)
	// Records: requests 0 and 3 of each 4, less the Updates (i%8 == 3).
	if rows != want || s.Stats().LastSeq != uint64(want-5) {
		t.Fatalf("%d rows, %d records; want %d rows, %d records", rows, s.Stats().LastSeq, want, want-5)
	}
	// The chain has no gap where a request failed.
	ents, _ := s.Pending(ctx, 0, 100)
	for i, e := range ents {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
	}
	if _, err := s.Reader().Exec(`INSERT INTO settings(k,v) VALUES('x','y')`); err == nil {
		t.Fatal("the read pool wrote")
	}
}
