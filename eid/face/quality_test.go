package face

import (
	"context"
	"image"
	"slices"
	"testing"

	"gocv.io/x/gocv"
)

// TestQualityGates checks that each gate fires on a frame made to fail it,
// and that a good frame passes them all.
func TestQualityGates(t *testing.T) {
	set := loadORL(t)
	e, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	face := set[4][0]
	adjust := func(alpha, beta float64) gocv.Mat {
		m := gocv.NewMat()
		face.ConvertToWithParams(&m, gocv.MatTypeCV8U, float32(alpha), float32(beta))
		return m
	}
	blurred := gocv.NewMat()
	gocv.GaussianBlur(face, &blurred, image.Pt(0, 0), 3, 3, gocv.BorderReplicate)
	dark, bright := adjust(0.3, 0), adjust(0.6, 150)
	defer func() { closeAll([]gocv.Mat{blurred, dark, bright}) }()
	two := backdrop()
	for _, x := range []int{170, 470} {
		f := place(face, 2.2, image.Pt(x, 240))
		r := image.Rect(x-150, 0, x+150, 480)
		src, dst := f.Region(r), two.Region(r)
		src.CopyTo(&dst)
		src.Close()
		dst.Close()
		f.Close()
	}
	empty := backdrop()
	for _, tc := range []struct {
		name  string
		frame gocv.Mat
		want  Problem
	}{
		{"good", place(face, orlScale, sceneCentre), ""},
		{"small", place(face, 1.1, sceneCentre), TooSmall},
		{"blurred", place(blurred, orlScale, sceneCentre), Blurry},
		{"dark", place(dark, orlScale, sceneCentre), TooDark},
		{"bright", place(bright, orlScale, sceneCentre), TooBright},
		{"two faces", two, ManyFaces},
		{"no face", empty, NoFace},
	} {
		c, err := e.Check(context.Background(), tc.frame)
		tc.frame.Close()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		q := c.Quality
		t.Logf("%-9s faces %d ratio %.2f sharpness %.0f mean %.0f clipped %.2f %v", tc.name, len(c.Faces), q.FaceRatio, q.Sharpness, q.Mean, q.Clipped, q.Problems)
		if tc.want == "" {
			if !q.OK() {
				t.Errorf("%s: problems %v, want none", tc.name, q.Problems)
			}
			continue
		}
		if !slices.Contains(q.Problems, tc.want) {
			t.Errorf("%s: problems %v, want %q", tc.name, q.Problems, tc.want)
		}
	}
}

func TestCheckBadFrames(t *testing.T) {
	e, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	empty := gocv.NewMat()
	defer empty.Close()
	float := gocv.NewMatWithSize(10, 10, gocv.MatTypeCV32F)
	defer float.Close()
	for _, m := range []gocv.Mat{empty, float} {
		if _, err := e.Check(context.Background(), m); err == nil {
			t.Errorf("Check of a %v frame: no error", m.Type())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Check(ctx, float); err == nil {
		t.Error("Check with a cancelled context: no error")
	}
}
