package outbox

import (
	"context"
	"crypto/ed25519"
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
				_, err := s.Append(ctx, Record{Key: fmt.Sprintf("k-%d-%d", w, i), Type: "test", Body: []byte(`{"n":1}`),
					Puts: []Put{{Bucket: "b", Key: fmt.Sprintf("%d-%d", w, i), Value: []byte("v")}}})
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
	if err := s.Scan(ctx, "b", "", func(string, []byte) bool { n++; return true }); err != nil || n != 200 {
		t.Fatalf("ledger scan: %d, %v", n, err)
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
