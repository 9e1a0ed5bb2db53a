//go:build !noopencv

package main

import (
	"bytes"
	"encoding/json"
	"image"
	"path/filepath"
	"strconv"
	"testing"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/internal/shared"
)

// orlImage writes ORL subject s, image i, padded into a portrait, as a PNG
// in dir and returns its path.
func orlImage(t *testing.T, dir string, s, i int) string {
	t.Helper()
	src := filepath.Join(shared.Testdata("faces", "orl"), "s"+itoa(s), itoa(i)+".pgm")
	m := gocv.IMRead(src, gocv.IMReadGrayScale)
	if m.Empty() {
		t.Fatalf("cannot read %s", src)
	}
	defer m.Close()
	big := gocv.NewMat()
	defer big.Close()
	gocv.Resize(m, &big, image.Pt(0, 0), 2, 2, gocv.InterpolationCubic)
	p := filepath.Join(dir, "s"+itoa(s)+"_"+itoa(i)+".png")
	if !gocv.IMWrite(p, big) {
		t.Fatalf("cannot write %s", p)
	}
	return p
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestFaceMatch(t *testing.T) {
	dir := t.TempDir()
	a, b, c := orlImage(t, dir, 1, 1), orlImage(t, dir, 1, 2), orlImage(t, dir, 2, 1)
	for _, tc := range []struct {
		a, b  string
		match bool
	}{{a, b, true}, {a, c, false}} {
		var out, errb bytes.Buffer
		if code := run([]string{"face", "match", tc.a, tc.b}, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		var r struct {
			Score     *float64 `json:"score"`
			Match     bool     `json:"match"`
			Threshold *float64 `json:"threshold"`
		}
		if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Score == nil || r.Threshold == nil {
			t.Fatalf("output %q: %v", out.String(), err)
		}
		if r.Match != tc.match {
			t.Errorf("%s vs %s: match %v (score %.4f, threshold %.4f), want %v", filepath.Base(tc.a), filepath.Base(tc.b), r.Match, *r.Score, *r.Threshold, tc.match)
		}
	}
}

func TestFaceCheck(t *testing.T) {
	dir := t.TempDir()
	p := orlImage(t, dir, 3, 1)
	var out, errb bytes.Buffer
	if code := run([]string{"face", "check", p}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r struct {
		Faces   []json.RawMessage `json:"faces"`
		Quality struct {
			FaceRatio float64 `json:"face_ratio"`
			Sharpness float64 `json:"sharpness"`
		} `json:"quality"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if len(r.Faces) != 1 || r.Quality.FaceRatio <= 0 || r.Quality.Sharpness <= 0 {
		t.Errorf("check of a face picture: %s", out.String())
	}
}

func TestFaceUsage(t *testing.T) {
	for _, args := range [][]string{{"face"}, {"face", "match", "x"}, {"face", "check"}, {"face", "frob", "x"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"face", "check", filepath.Join(t.TempDir(), "missing.png")}, &out, &errb); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
}
