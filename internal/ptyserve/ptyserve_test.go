package ptyserve_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/internal/ptyserve"
)

// TestAnnounce: the link replaces one left by an earlier run and names the
// terminal printed; Wait returns once the context ends, and the link goes.
func TestAnnounce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := ptyserve.Start(ctx, func(ctx context.Context, _ io.ReadWriter) error { <-ctx.Done(); return nil })
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "dev0")
	os.Symlink("/nowhere", link) // an earlier run's
	var out bytes.Buffer
	unlink, err := p.Announce(link, &out)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(link); got != p.Path || strings.TrimSpace(out.String()) != p.Path {
		t.Errorf("link to %q, printed %q; want %q", got, out.String(), p.Path)
	}
	cancel()
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	unlink()
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("link left: %v", err)
	}
}
