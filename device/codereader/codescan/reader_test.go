package codescan

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device/camera"
	camsim "github.com/guichet/guichet/device/camera/sim"
	"github.com/guichet/guichet/device/codereader"
	"gocv.io/x/gocv"
)

// frameFolder writes camera frames to a folder, one per text ("" for a
// frame without a code), named in order.
func frameFolder(t *testing.T, texts ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i, text := range texts {
		f := cameraFrame(t, text, uint64(i))
		if !gocv.IMWrite(filepath.Join(dir, string(rune('a'+i))+".png"), f) {
			t.Fatal("cannot write frame")
		}
		f.Close()
	}
	return dir
}

func yamlNode(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

func TestReaderRegisteredDriver(t *testing.T) {
	dir := frameFolder(t, "", "PAY-0001", "PAY-0001", "PAY-0001", "")
	opts := yamlNode(t, `
camera: folder
camera_options: {path: `+dir+`, fps: 30}
dedupe: 1h
source: till-1
`)
	cr, err := codereader.Drivers.Open(context.Background(), "camera", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := cr.ReadCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != QRCode || c.Text != "PAY-0001" || c.Source != "till-1" || c.At.IsZero() {
		t.Fatalf("got %+v", c)
	}
	// The folder loops: the same code keeps coming, and is not repeated
	// within the dedupe window.
	short, cancel2 := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel2()
	if c, err := cr.ReadCode(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("repeat within dedupe window: %+v, %v", c, err)
	}
	if s := cr.(*Reader).Stats(); s.Grabbed < 5 || s.Decoded < 3 || s.Reported != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReaderReportsAgainAfterDedupeWindow(t *testing.T) {
	dir := frameFolder(t, "AGAIN", "AGAIN")
	cam, err := camsim.OpenFolder(camsim.FolderOptions{Path: dir, FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(cam, dec, ReaderConfig{Dedupe: 300 * time.Millisecond, Confirm: 1})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first, err := r.ReadCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.ReadCode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Text != "AGAIN" || second.Text != "AGAIN" {
		t.Fatalf("got %q then %q", first.Text, second.Text)
	}
	if gap := second.At.Sub(first.At); gap < 300*time.Millisecond {
		t.Fatalf("reported again after %v, inside the 300ms dedupe window", gap)
	}
}

func TestReaderNeedsConfirmation(t *testing.T) {
	// The code appears in one frame only: with Confirm 2 it is never
	// reported, and the recording's end comes out of ReadCode.
	dir := frameFolder(t, "", "ONCE", "", "")
	cam, err := camsim.OpenFolder(camsim.FolderOptions{Path: dir, Once: true, FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(cam, dec, ReaderConfig{Confirm: 2})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if c, err := r.ReadCode(ctx); !errors.Is(err, camera.ErrEnd) {
		t.Fatalf("got %+v, %v; want the end of the recording", c, err)
	}
}

func TestReaderSkipsFramesWhenBehind(t *testing.T) {
	// A camera that delivers frames far faster than they decode: the
	// reader must skip to the newest rather than queue them.
	f := cameraFrame(t, "SKIP", 1)
	defer f.Close()
	dec, err := NewDecoder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(&memCamera{frame: f}, dec, ReaderConfig{Confirm: 1, Dedupe: time.Hour})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if c, err := r.ReadCode(ctx); err != nil || c.Text != "SKIP" {
		t.Fatalf("got %+v, %v", c, err)
	}
	time.Sleep(300 * time.Millisecond)
	s := r.Stats()
	if s.Decoded*2 > s.Grabbed {
		t.Fatalf("decoded %d of %d frames: frames were not skipped", s.Decoded, s.Grabbed)
	}
}

// memCamera yields copies of one frame, 1000 a second: a camera faster
// than any decoder.
type memCamera struct{ frame gocv.Mat }

func (c *memCamera) Read(ctx context.Context, dst *gocv.Mat) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Millisecond):
	}
	c.frame.CopyTo(dst)
	return nil
}

func (c *memCamera) Close() error { return nil }

func TestReaderCameraFailure(t *testing.T) {
	dec, err := NewDecoder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(brokenCamera{}, dec, ReaderConfig{})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := r.ReadCode(ctx); err == nil || !errors.Is(err, errUnplugged) {
		t.Fatalf("got %v, want the camera's error", err)
	}
}

var errUnplugged = errors.New("unplugged")

// brokenCamera fails every read, as an unplugged camera does.
type brokenCamera struct{}

func (brokenCamera) Read(ctx context.Context, dst *gocv.Mat) error { return errUnplugged }
func (brokenCamera) Close() error                                  { return nil }

func TestOpenReaderErrors(t *testing.T) {
	for _, c := range []struct{ opts, want string }{
		{"{}", "no camera driver"},
		{"camera: nope", "unknown camera driver"},
		{"camera: folder\ncamera_options: {path: /nonexistent}", "nonexistent"},
		{"camera: folder\ncamera_options: {path: " + t.TempDir() + "}\nformats: [PDF417]", ""},
	} {
		_, err := codereader.Drivers.Open(context.Background(), "camera", yamlNode(t, c.opts))
		if err == nil {
			t.Errorf("%s: opened", c.opts)
		}
	}
}
