package outbox

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFullDiskStillAcks fills a real small file system (a 6 MiB tmpfs)
// with records until appends are refused, then checks that the refused
// record was not stored, that the platform's acks are still recorded and
// drain the queue, and that records are taken again afterwards.
func TestFullDiskStillAcks(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a 6 MiB tmpfs (the test runs as root): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	path := filepath.Join(dir, "outbox.db")
	s, err := Open(path, testIdentity(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.KeepReserve(path, 1<<20); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	body := []byte(`{"pad":"` + strings.Repeat("x", 2000) + `"}`)
	stored := 0
	var refused error
	for i := range 10000 {
		_, err := s.Append(ctx, Record{Type: "payment", Key: fmt.Sprintf("k%d", i), Body: body})
		if err != nil {
			refused = err
			break
		}
		stored++
	}
	if !errors.Is(refused, ErrDiskFull) {
		t.Fatalf("after %d records: %v, want ErrDiskFull", stored, refused)
	}
	if stored < 200 {
		t.Fatalf("only %d records stored before the disk was full", stored)
	}
	if !s.DiskFull() {
		t.Error("DiskFull is false after a refusal")
	}
	// The refusal shrank the write-ahead log, which may give space back:
	// records are then taken until the disk is full again, and refused.
	for i := range 10000 {
		_, err := s.Append(ctx, Record{Type: "payment", Key: fmt.Sprintf("again%d", i), Body: body})
		if err != nil {
			refused = err
			break
		}
		stored++
	}
	if !errors.Is(refused, ErrDiskFull) {
		t.Fatalf("second filling: %v, want ErrDiskFull", refused)
	}
	// The platform acks in steps, as its acks come in windows.
	for upto := uint64(100); ; upto += 100 {
		upto = min(upto, uint64(stored))
		if err := s.Ack(ctx, upto); err != nil {
			t.Fatalf("ack up to %d on a full disk: %v", upto, err)
		}
		if upto == uint64(stored) {
			break
		}
	}
	if st := s.Stats(); st.Depth != 0 {
		t.Fatalf("queue after acking everything: %+v", st)
	}
	e, err := s.Append(ctx, Record{Type: "payment", Key: "after", Body: body})
	if err != nil {
		t.Fatalf("append after the queue drained: %v", err)
	}
	if e.Seq != uint64(stored)+1 {
		t.Errorf("first record after the drain has seq %d, want %d: a refused record took a place", e.Seq, stored+1)
	}
	if s.DiskFull() {
		t.Error("DiskFull still true after the reserve was made again")
	}
}
