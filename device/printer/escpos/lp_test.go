package escpos

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/guichet/guichet/internal/escposemu"
)

// TestAtTheWireAsAFile prints and kicks the drawer through a device that
// is no terminal, as the usblp driver's /dev/usb/lp0 or a udev link to
// it: written as a file, with no line settings. A FIFO stands for the
// device, the emulator reading its other end.
func TestAtTheWireAsAFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "receipt-printer")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if isTerminal(path) {
		t.Fatal("a FIFO taken for a terminal")
	}
	e := escposemu.New()
	// The reader holds the FIFO open for writing too, so that the
	// driver's probe and its closing never give it an end of file.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fed := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			if n > 0 {
				if _, ferr := e.Feed(buf[:n]); ferr != nil {
					fed <- ferr
					return
				}
			}
			if err != nil {
				if errors.Is(err, os.ErrClosed) {
					err = nil
				}
				fed <- err
				return
			}
		}
	}()
	p, err := Open(ctx, Options{Port: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Print(ctx, receipt); err != nil {
		t.Fatal(err)
	}
	if err := p.OpenDrawer(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := e.Wait(ctx, func(s escposemu.State) bool { return len(s.Slips) == 1 && len(s.Kicks) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	checkSlip(t, s.Slips[0])
	if k := s.Kicks[0]; k != (escposemu.Kick{Pin: 2, On: 50 * time.Millisecond, Off: 500 * time.Millisecond}) {
		t.Fatalf("kick %+v", k)
	}
	p.Close()
	f.Close()
	if err := <-fed; err != nil {
		t.Fatal(err)
	}
}
