package sim

import (
	"context"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/device/camera"
)

// yamlOpts parses s as a driver's options, as the daemon's configuration
// loader hands them over.
func yamlOpts(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

// numbered makes frame i: gray level 20*i+10 with a white square whose
// position also says i, so a frame can be identified after lossy codecs.
func numbered(i int) gocv.Mat {
	v := float64(20*i + 10)
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(v, v, v, 0), 240, 320, gocv.MatTypeCV8UC3)
	gocv.Rectangle(&m, image.Rect(10+20*i, 100, 30+20*i, 120), color.RGBA{255, 255, 255, 255}, -1)
	return m
}

// frameIndex recovers i from a frame made by numbered.
func frameIndex(t *testing.T, m gocv.Mat) int {
	t.Helper()
	if m.Cols() != 320 || m.Rows() != 240 || m.Channels() != 3 {
		t.Fatalf("frame %dx%dx%d, want 320x240x3", m.Cols(), m.Rows(), m.Channels())
	}
	v := m.GetVecbAt(10, 300)[1]
	return (int(v) - 10 + 10) / 20
}

func writeVideo(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clip.avi")
	w, err := gocv.VideoWriterFile(path, "MJPG", 30, 320, 240, true)
	if err != nil {
		t.Fatal(err)
	}
	if !w.IsOpened() {
		t.Fatal("OpenCV cannot write MJPG .avi: install libopencv-dev (videoio with its built-in MJPEG writer)")
	}
	for i := range n {
		f := numbered(i)
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVideoPlaysFramesInOrder(t *testing.T) {
	path := writeVideo(t, 8)
	cam, err := camera.Drivers.Open(context.Background(), "video", yamlOpts(t, "path: "+path))
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	m := gocv.NewMat()
	defer m.Close()
	for i := range 8 {
		if err := cam.Read(context.Background(), &m); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got := frameIndex(t, m); got != i {
			t.Fatalf("frame %d reads as %d", i, got)
		}
	}
	if err := cam.Read(context.Background(), &m); !errors.Is(err, camera.ErrEnd) {
		t.Fatalf("after the last frame: %v, want camera.ErrEnd", err)
	}
	cam.Close()
	if err := cam.Read(context.Background(), &m); !errors.Is(err, camera.ErrClosed) {
		t.Fatalf("after Close: %v, want camera.ErrClosed", err)
	}
}

func TestVideoLoopsAndPaces(t *testing.T) {
	path := writeVideo(t, 3)
	v, err := OpenVideo(VideoOptions{Path: path, Loop: true, Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	m := gocv.NewMat()
	defer m.Close()
	start := time.Now()
	var got []int
	for range 7 {
		if err := v.Read(context.Background(), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, frameIndex(t, m))
	}
	if want := []int{0, 1, 2, 0, 1, 2, 0}; !equal(got, want) {
		t.Fatalf("looped frames %v, want %v", got, want)
	}
	// Paced at the file's 30 fps, 7 frames cannot come sooner than 6
	// periods after the first (a lower bound only: the machine may be slow).
	if el := time.Since(start); el < 6*time.Second/30 {
		t.Fatalf("7 frames at 30 fps came in %v", el)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.Read(ctx, &m); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFolderPlaysImagesInNameOrder(t *testing.T) {
	dir := t.TempDir()
	// Written out of order, in two formats, with a file that is no image.
	for _, i := range []int{2, 0, 1} {
		f := numbered(i)
		ext := ".png"
		if i == 1 {
			ext = ".jpg"
		}
		if !gocv.IMWrite(filepath.Join(dir, "frame"+string(rune('0'+i))+ext), f) {
			t.Fatal("cannot write test image")
		}
		f.Close()
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a frame"), 0o644); err != nil {
		t.Fatal(err)
	}
	cam, err := camera.Drivers.Open(context.Background(), "folder", yamlOpts(t, "path: "+dir))
	if err != nil {
		t.Fatal(err)
	}
	defer cam.Close()
	m := gocv.NewMat()
	defer m.Close()
	var got []int
	for range 5 {
		if err := cam.Read(context.Background(), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, frameIndex(t, m))
	}
	if want := []int{0, 1, 2, 0, 1}; !equal(got, want) {
		t.Fatalf("frames %v, want %v (name order, looping)", got, want)
	}

	once, err := OpenFolder(FolderOptions{Path: dir, Once: true})
	if err != nil {
		t.Fatal(err)
	}
	defer once.Close()
	for range 3 {
		if err := once.Read(context.Background(), &m); err != nil {
			t.Fatal(err)
		}
	}
	if err := once.Read(context.Background(), &m); !errors.Is(err, camera.ErrEnd) {
		t.Fatalf("once: %v, want camera.ErrEnd", err)
	}
}

func TestFolderBadImage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.png"), []byte("\x89PNG\r\n\x1a\ntruncated"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFolder(FolderOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := gocv.NewMat()
	defer m.Close()
	if err := f.Read(context.Background(), &m); err == nil || !strings.Contains(err.Error(), "a.png") {
		t.Fatalf("truncated PNG: %v, want an error naming it", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.avi")
	if err := os.WriteFile(junk, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		driver, opts, want string
	}{
		{"folder", "path: " + dir, "no image files"},
		{"folder", "path: " + filepath.Join(dir, "missing"), "no such file"},
		{"folder", "{}", "no path"},
		{"folder", "path: [1, 2]", "options"},
		{"video", "path: " + filepath.Join(dir, "missing.avi"), "no such file"},
		{"video", "path: " + junk, "junk.avi"},
		{"webcam", "{}", "unknown camera driver"},
	}
	for _, c := range cases {
		cam, err := camera.Drivers.Open(context.Background(), c.driver, yamlOpts(t, c.opts))
		if err == nil {
			cam.Close()
			t.Errorf("%s %s: opened, want error with %q", c.driver, c.opts, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.driver, c.opts, err, c.want)
		}
	}
}

func TestDriversRegistered(t *testing.T) {
	for _, n := range []string{"folder", "video"} {
		if !camera.Drivers.Has(n) {
			t.Errorf("driver %q not registered", n)
		}
	}
}
