package face

import (
	"image"
	"math"

	"gocv.io/x/gocv"
)

// Problem is a reason a frame is not good enough, worded so that the
// official can pass it on to the citizen.
type Problem string

// The problems the quality gates report.
const (
	NoFace    Problem = "no face found: look at the camera"
	ManyFaces Problem = "more than one face: only the citizen may be in view"
	TooSmall  Problem = "face too small: move closer"
	TooLarge  Problem = "face too large: move back"
	OffFrame  Problem = "face at the edge of the picture: move to the centre"
	Blurry    Problem = "picture blurred: hold still, or clean the lens"
	TooDark   Problem = "too dark: add light in front of the face"
	TooBright Problem = "too bright: avoid strong light on the face"
	Glare     Problem = "part of the face is washed out: avoid glare or reflections"
)

// Limits are the thresholds of the quality gates.
type Limits struct {
	// MinFace and MaxFace bound the face box height as a fraction of the
	// frame height.
	MinFace, MaxFace float64
	// MinSharpness is the least variance of the Laplacian of the face,
	// resampled to 96 pixels wide, so that it does not depend on distance.
	MinSharpness float64
	// MinMean and MaxMean bound the mean grey level of the face.
	MinMean, MaxMean float64
	// MaxClipped is the largest fraction of face pixels at 0-5 or 250-255.
	MaxClipped float64
}

// DefaultLimits are gates for a counter camera at about 50 cm, checked on
// the ORL faces placed in a 640×480 scene (see quality_test.go).
var DefaultLimits = Limits{
	MinFace: 0.25, MaxFace: 0.9,
	MinSharpness: 15,
	MinMean:      60, MaxMean: 200,
	MaxClipped: 0.15,
}

// Quality is what the gates measured on the largest face of a frame.
type Quality struct {
	FaceRatio float64   `json:"face_ratio"` // face box height / frame height
	Sharpness float64   `json:"sharpness"`  // variance of the Laplacian
	Mean      float64   `json:"mean"`       // mean grey level of the face
	Clipped   float64   `json:"clipped"`    // fraction of under- or over-exposed face pixels
	Problems  []Problem `json:"problems,omitempty"`
}

// OK reports whether no gate failed.
func (q Quality) OK() bool { return len(q.Problems) == 0 }

// assess measures face box of the grey frame g against lim. faces is the
// number of faces found in the frame.
func assess(g gocv.Mat, faces int, box image.Rectangle, lim Limits) Quality {
	var q Quality
	switch {
	case faces == 0:
		q.Problems = append(q.Problems, NoFace)
		return q
	case faces > 1:
		q.Problems = append(q.Problems, ManyFaces)
	}
	frame := image.Rect(0, 0, g.Cols(), g.Rows())
	q.FaceRatio = float64(box.Dy()) / float64(frame.Dy())
	switch {
	case q.FaceRatio < lim.MinFace:
		q.Problems = append(q.Problems, TooSmall)
	case q.FaceRatio > lim.MaxFace:
		q.Problems = append(q.Problems, TooLarge)
	}
	in := box.Intersect(frame)
	if in.Dx()*in.Dy() < box.Dx()*box.Dy()*9/10 {
		q.Problems = append(q.Problems, OffFrame)
	}
	if in.Empty() {
		return q
	}
	// The inner part of the box: the face, not the background around it.
	inner := image.Rect(in.Min.X+in.Dx()/8, in.Min.Y+in.Dy()/8, in.Max.X-in.Dx()/8, in.Max.Y-in.Dy()/8)
	if inner.Dx() < 8 || inner.Dy() < 8 {
		inner = in
	}
	roi := g.Region(inner)
	defer roi.Close()
	small := gocv.NewMat()
	defer small.Close()
	w := 96
	h := max(8, w*inner.Dy()/inner.Dx())
	gocv.Resize(roi, &small, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	pix := small.ToBytes()
	defer clear(pix)
	var sum float64
	clipped := 0
	for _, p := range pix {
		sum += float64(p)
		if p <= 5 || p >= 250 {
			clipped++
		}
	}
	q.Mean = sum / float64(len(pix))
	q.Clipped = float64(clipped) / float64(len(pix))
	q.Sharpness = laplacianVariance(pix, w, h)
	if q.Sharpness < lim.MinSharpness {
		q.Problems = append(q.Problems, Blurry)
	}
	switch {
	case q.Mean < lim.MinMean:
		q.Problems = append(q.Problems, TooDark)
	case q.Mean > lim.MaxMean:
		q.Problems = append(q.Problems, TooBright)
	case q.Clipped > lim.MaxClipped:
		q.Problems = append(q.Problems, Glare)
	}
	return q
}

// laplacianVariance returns the variance of the 4-neighbour Laplacian of
// the w×h grey image pix (Pech-Pacheco et al., "Diatom autofocusing in
// brightfield microscopy: a comparative study", ICPR 2000), a standard
// focus measure: blur removes the high frequencies the Laplacian responds to.
func laplacianVariance(pix []byte, w, h int) float64 {
	var s, s2 float64
	n := 0
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			l := float64(pix[i-1]) + float64(pix[i+1]) + float64(pix[i-w]) + float64(pix[i+w]) - 4*float64(pix[i])
			s += l
			s2 += l * l
			n++
		}
	}
	if n == 0 {
		return 0
	}
	m := s / float64(n)
	return math.Max(0, s2/float64(n)-m*m)
}
