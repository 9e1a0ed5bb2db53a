package outbox

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// TestOnlineBackupWhileWriting is the backup of docs/operations.md:
// sqlite3's .backup of the store while records are appended, then the
// copy opened as a store (as a restore does): it holds every record
// appended before the backup began, in an unbroken chain, and takes new
// ones after them.
func TestOnlineBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "outbox.db")
	id := testIdentity(t)
	s, err := Open(path, id)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	body := []byte(`{"amount":100}`)
	for i := range 200 {
		if _, err := s.Append(ctx, Record{Type: "payment", Key: fmt.Sprintf("before%d", i), Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Append(ctx, Record{Type: "payment", Key: fmt.Sprintf("during%d", i), Body: body}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	backup := filepath.Join(dir, "backup.db")
	out, err := exec.Command("sqlite3", path, ".backup '"+backup+"'").CombinedOutput()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("sqlite3 .backup: %v: %s", err, out)
	}
	last := s.Stats().Depth
	s.Close()
	if out, err := exec.Command("sqlite3", backup, "PRAGMA integrity_check").CombinedOutput(); err != nil || string(out) != "ok\n" {
		t.Fatalf("integrity_check of the backup: %v: %s", err, out)
	}
	r, err := Open(backup, id)
	if err != nil {
		t.Fatalf("open the restored store: %v", err)
	}
	defer r.Close()
	got := r.Stats().Depth
	if got < 200 || got > last {
		t.Fatalf("restored store holds %d records, want 200..%d", got, last)
	}
	entries, err := r.Pending(ctx, 0, int(got)+1)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if e.Seq != uint64(i+1) {
			t.Fatalf("record %d has seq %d: the chain has a hole", i, e.Seq)
		}
	}
	e, err := r.Append(ctx, Record{Type: "payment", Key: "after-restore", Body: body})
	if err != nil || e.Seq != got+1 {
		t.Fatalf("append after restore: seq %d, %v; want %d", e.Seq, err, got+1)
	}
}
