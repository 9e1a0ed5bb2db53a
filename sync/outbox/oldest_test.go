package outbox

import (
	"context"
	"path/filepath"
	"testing"
)

func TestOldest(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "outbox.db"), testIdentity(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok, err := s.Oldest(ctx); ok || err != nil {
		t.Fatalf("empty queue: ok %v, %v", ok, err)
	}
	var created []Entry
	for _, k := range []string{"a", "b"} {
		e, err := s.Append(ctx, Record{Key: k, Type: "test", Body: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, e)
	}
	at, ok, err := s.Oldest(ctx)
	if !ok || err != nil || !at.Equal(created[0].Created.Truncate(1e6)) {
		t.Fatalf("oldest = %v %v %v, want %v", at, ok, err, created[0].Created)
	}
	if err := s.Ack(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if at, ok, _ := s.Oldest(ctx); !ok || !at.Equal(created[1].Created.Truncate(1e6)) {
		t.Fatalf("after ack 1: %v %v, want %v", at, ok, created[1].Created)
	}
	if err := s.Ack(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Oldest(ctx); ok {
		t.Fatal("all acked, still an oldest")
	}
}
