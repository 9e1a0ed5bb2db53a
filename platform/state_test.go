package platform

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/guichet/guichet/sync/envelope"
)

// counter is a StatefulDecider that counts the records it decided per
// device in its State, answers each with the count so far, and fails
// (after writing) the record whose key is failKey.
type counter struct {
	calls   int
	failKey string
}

func (c *counter) Decide(*envelope.Record) envelope.Result {
	panic("Decide called on a StatefulDecider")
}

func (c *counter) DecideIn(st State, r *envelope.Record) (envelope.Result, error) {
	c.calls++
	key := "count/" + r.Tenant + "/" + r.Device
	v, _, err := st.Get(key)
	if err != nil {
		return envelope.Result{}, err
	}
	n, _ := strconv.Atoi(string(v))
	n++
	if err := st.Put(key, []byte(strconv.Itoa(n))); err != nil {
		return envelope.Result{}, err
	}
	if r.Key == c.failKey {
		return envelope.Result{}, errors.New("forced failure")
	}
	return envelope.Result{Status: "applied", Reason: strconv.Itoa(n)}, nil
}

// stateOf reads a value as the next transaction would see it.
func stateOf(t *testing.T, s *Store, key string) (string, bool) {
	t.Helper()
	tx, err := s.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	st, closeState, err := prepareState(context.Background(), tx)
	if err != nil {
		t.Fatal(err)
	}
	defer closeState()
	v, ok, err := st.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(v), ok
}

func reasons(out *Outcome) []string {
	var rs []string
	for _, a := range out.Acks {
		for _, r := range a.Results {
			rs = append(rs, r.Reason)
		}
	}
	return rs
}

func TestStatefulDeciderStateFollowsTheBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	_, k, _ := ed25519.GenerateKey(nil)
	if err := s.Enrol(context.Background(), "t", "d", k.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	dec := &counter{failKey: "k2"}
	a := &Applier{Store: s, Decider: dec, Instance: "test"}
	d := &device{tenant: "t", id: "d", key: k}
	r1, r2 := d.next("k1"), d.next("k2")

	// r1 writes, then r2 writes and fails: the batch fails and neither
	// write stays, nor does any record.
	if _, err := a.Apply(context.Background(), []Incoming{r1, r2}); err == nil {
		t.Fatal("a batch whose decider failed was applied")
	}
	if dec.calls != 2 {
		t.Fatalf("DecideIn called %d times, want 2", dec.calls)
	}
	if v, ok := stateOf(t, s, "count/t/d"); ok {
		t.Fatalf("state %q left by a failed batch", v)
	}
	if seqs := applied(t, a); len(seqs) != 0 {
		t.Fatalf("records %v left by a failed batch", seqs)
	}

	// Sent again, the batch goes through and counts from where the store
	// was, not from what the failed batch wrote.
	dec.failKey = ""
	out := apply(t, a, r1, r2)
	if got := reasons(out); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Fatalf("results %v, want counts 1 and 2", got)
	}

	// Duplicates, by sequence or by key under a new sequence, are not
	// decided again and change nothing.
	calls := dec.calls
	out = apply(t, a, r1, r2)
	if out.Duplicates != 2 || dec.calls != calls {
		t.Fatalf("redelivery: %d duplicates, DecideIn called %d more times", out.Duplicates, dec.calls-calls)
	}
	if got := reasons(out); len(got) != 2 || got[1] != "2" {
		t.Fatalf("redelivery answered %v, want the stored results", got)
	}
	again := d.next("k1")
	if out = apply(t, a, again); out.Duplicates != 1 || dec.calls != calls {
		t.Fatalf("same key, new seq: %d duplicates, DecideIn called %d more times", out.Duplicates, dec.calls-calls)
	}
	if v, _ := stateOf(t, s, "count/t/d"); v != "2" {
		t.Fatalf("state %q after duplicates, want 2", v)
	}

	// A restart: a new store and decider on the same file go on counting.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = OpenStore(path); err != nil {
		t.Fatal(err)
	}
	dec = &counter{}
	a = &Applier{Store: s, Decider: dec, Instance: "test"}
	if got := reasons(apply(t, a, d.next("k3"))); len(got) != 1 || got[0] != "3" {
		t.Fatalf("after reopening: %v, want count 3", got)
	}
}

// A store made before decider_state existed gets the table when opened.
func TestOpenAddsDeciderStateToAnOldStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.Exec(`DROP TABLE decider_state`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = OpenStore(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := stateOf(t, s, "x"); ok {
		t.Fatal("state in a new table")
	}
}
