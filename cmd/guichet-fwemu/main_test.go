package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/guichet/guichet/firmware-bridge/dfu"
	"github.com/guichet/guichet/firmware-bridge/manifest"
	"github.com/guichet/guichet/internal/keys"
)

// start runs the command until the test ends and returns the terminal path
// it printed, and a function that stops it (a power cut).
func start(t *testing.T, args ...string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, w, io.Discard); w.Close() }()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no terminal path: %v (%v)", err, <-done)
	}
	go io.Copy(io.Discard, r)
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	return strings.TrimSpace(line), stop
}

func info(t *testing.T, path string) dfu.Info {
	t.Helper()
	port, err := serial.Open(path, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	c := dfu.New(port, dfu.Options{})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	i, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	key, err := keys.LoadOrCreate(filepath.Join(dir, "fw.key"))
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "app.bin")
	if err := run(context.Background(), []string{"-make-image", img, "-size", "3000", "-seed", "x"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(img)
	_, mb, err := manifest.New(key, "sam-v2", manifest.Version{Major: 1}, 4, b)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(img+".manifest", mb, 0o644)
	flash := filepath.Join(dir, "flash")
	link := filepath.Join(dir, "fw0")
	args := []string{"-dir", flash, "-pubkey", filepath.Join(dir, "fw.key.pub"), "-link", link, "-baud", "0",
		"-factory-manifest", img + ".manifest", "-factory-image", img}
	_, stop := start(t, args...)
	i := info(t, link)
	if i.Mode != dfu.ModeApplication || i.Counter != 4 || i.Version.Major != 1 || i.Class != "sam-v2" {
		t.Fatalf("INFO %+v", i)
	}
	stop()
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatalf("link left behind: %v", err)
	}
	// A restart on an empty flash without a factory image waits in the
	// bootloader; on the same flash the image is still there.
	path, stop := start(t, "-dir", filepath.Join(dir, "blank"), "-pubkey", filepath.Join(dir, "fw.key.pub"))
	if i := info(t, path); i.Mode != dfu.ModeBootloader || i.Slot != 0xFF {
		t.Fatalf("blank INFO %+v", i)
	}
	stop()
	path, stop = start(t, "-dir", flash, "-pubkey", filepath.Join(dir, "fw.key.pub"))
	defer stop()
	if i := info(t, path); i.Mode != dfu.ModeApplication || i.Digest != sha256.Sum256(b) {
		t.Fatalf("INFO after restart %+v", i)
	}
}
