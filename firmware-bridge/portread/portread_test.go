package portread_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/guichet/guichet/firmware-bridge/portread"
)

// TestReadsUntilClosed: what the peripheral writes on a real
// pseudo-terminal arrives in order, and Close ends the read in progress
// with no error to report.
func TestReadsUntilClosed(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	r := portread.Start(tty)
	if _, err := ptmx.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	deadline := time.After(5 * time.Second)
	for !bytes.Contains(got, []byte("hello")) {
		select {
		case b := <-r.Chunks():
			got = append(got, b...)
		case <-deadline:
			t.Fatalf("read %q, want hello", got)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Done():
	default:
		t.Fatal("Close returned before the reader stopped")
	}
	if r.Err() != nil {
		t.Errorf("after Close: %v, want nil", r.Err())
	}
}

type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }

// TestPortError: a port that fails stops the reader with its error.
func TestPortError(t *testing.T) {
	r := portread.Start(failing{io.ErrUnexpectedEOF})
	select {
	case <-r.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the reader did not stop")
	}
	if !errors.Is(r.Err(), io.ErrUnexpectedEOF) {
		t.Errorf("Err %v", r.Err())
	}
}
