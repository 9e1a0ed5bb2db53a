package face

import (
	"context"
	"errors"
	"testing"

	"gocv.io/x/gocv"
)

func pngOf(t *testing.T, m gocv.Mat) []byte {
	t.Helper()
	buf, err := gocv.IMEncode(gocv.PNGFileExt, m)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...)
}

func TestSession(t *testing.T) {
	set := loadORL(t)
	e, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	s := e.NewSession(TurnLeft)
	if _, err := s.MatchCard(ctx, pngOf(t, set[0][0])); !errors.Is(err, ErrNotCaptured) {
		t.Fatalf("MatchCard before any frame: %v, want ErrNotCaptured", err)
	}
	frame := place(set[0][0], orlScale, sceneCentre)
	st, err := s.Feed(ctx, frame)
	frame.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Faces) != 1 || !st.Quality.OK() || !st.Captured || st.Liveness.State != Pending || st.Liveness.Prompt == "" {
		t.Fatalf("status after a good frame: %+v", st)
	}
	same, err := s.MatchCard(ctx, pngOf(t, set[0][0]))
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.MatchCard(ctx, pngOf(t, set[7][3]))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("same photo %.4f, other subject %.4f, threshold %.4f", same.Score, other.Score, same.Threshold)
	if !same.Match || other.Match {
		t.Errorf("same photo match=%v, other subject match=%v", same.Match, other.Match)
	}
	if _, err := s.MatchCard(ctx, []byte("junk")); !errors.Is(err, ErrPhoto) {
		t.Errorf("MatchCard of junk: %v, want ErrPhoto", err)
	}
	noFace := pngOf(t, backdrop())
	if _, err := s.MatchCard(ctx, noFace); !errors.Is(err, ErrNoFace) {
		t.Errorf("MatchCard of a photo without a face: %v, want ErrNoFace", err)
	}
	tpl := s.best
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for i, v := range tpl {
		if v != 0 {
			t.Fatalf("template not wiped on Close: [%d] = %v", i, v)
		}
	}
	if _, err := s.Feed(ctx, gocv.NewMat()); err == nil {
		t.Error("Feed after Close: no error")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []Config{
		{FaceCascade: dir + "/missing.xml"},
		{YuNetModel: dir + "/missing.onnx"},
		{SFaceModel: dir + "/missing.onnx"},
	} {
		if e, err := Open(cfg); err == nil {
			e.Close()
			t.Errorf("Open(%+v): no error", cfg)
		}
	}
}
