package face

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"sort"

	"gocv.io/x/gocv"
)

// Face is one face found in a frame.
type Face struct {
	// Box bounds the face in frame coordinates.
	Box image.Rectangle `json:"box"`
	// Eyes are the centres of the eye on the left of the image and of the
	// one on the right, when EyesFound.
	Eyes      [2]image.Point `json:"eyes,omitempty"`
	EyesFound bool           `json:"eyes_found"`
	// Score is the detector's confidence: YuNet's score in [0, 1], or 1 for
	// a cascade, which gives none.
	Score float64 `json:"score"`
}

// Detector finds faces in a frame. Frames are 8-bit grey or BGR; results
// are sorted by decreasing box area.
type Detector interface {
	Detect(frame gocv.Mat) ([]Face, error)
	Close() error
}

// Default locations of the cascades of Debian's opencv-data package.
const (
	DefaultFaceCascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml"
	DefaultEyeCascade  = "/usr/share/opencv4/haarcascades/haarcascade_eye.xml"
)

// Cascade detects faces with a Viola-Jones cascade (Haar or LBP features,
// OpenCV's CascadeClassifier) and eyes with a second cascade inside each
// face. It is not safe for concurrent use.
type Cascade struct {
	face, eye gocv.CascadeClassifier
	// MinFace is the smallest face searched, as a fraction of the frame's
	// shorter side. Smaller means slower.
	MinFace float64
	gray    gocv.Mat
}

// NewCascade loads the face cascade and the eye cascade from files in
// OpenCV's XML format; empty paths select the defaults.
func NewCascade(facePath, eyePath string) (*Cascade, error) {
	if facePath == "" {
		facePath = DefaultFaceCascade
	}
	if eyePath == "" {
		eyePath = DefaultEyeCascade
	}
	c := &Cascade{face: gocv.NewCascadeClassifier(), eye: gocv.NewCascadeClassifier(), MinFace: 0.15, gray: gocv.NewMat()}
	for _, l := range []struct {
		cc   *gocv.CascadeClassifier
		path string
	}{{&c.face, facePath}, {&c.eye, eyePath}} {
		// Load prints OpenCV's own error on failure and says only false;
		// checking the file first gives the technician a usable message.
		if _, err := os.Stat(l.path); err != nil {
			c.Close()
			return nil, fmt.Errorf("face: cascade: %w (apt-get install opencv-data)", err)
		}
		if !l.cc.Load(l.path) {
			c.Close()
			return nil, fmt.Errorf("face: cascade %s: not a valid OpenCV cascade", l.path)
		}
	}
	return c, nil
}

// Close frees the cascades.
func (c *Cascade) Close() error {
	c.face.Close()
	c.eye.Close()
	c.gray.Close()
	return nil
}

// Detect finds faces in frame, and the eyes in each.
func (c *Cascade) Detect(frame gocv.Mat) ([]Face, error) {
	g, err := toGray(frame, &c.gray)
	if err != nil {
		return nil, err
	}
	short := min(g.Cols(), g.Rows())
	minSide := max(24, int(c.MinFace*float64(short)))
	rects := c.face.DetectMultiScaleWithParams(g, 1.1, 3, 0, image.Pt(minSide, minSide), image.Pt(0, 0))
	faces := make([]Face, 0, len(rects))
	for _, r := range rects {
		f := Face{Box: r, Score: 1}
		f.Eyes, f.EyesFound = c.findEyes(g, r)
		faces = append(faces, f)
	}
	sortFaces(faces)
	return faces, nil
}

// OpenEyes counts the open eyes the eye cascade finds in the face box: the
// cascade is trained on open eyes, so a closed eye mostly goes unseen, which
// is what the blink challenge relies on.
func (c *Cascade) OpenEyes(frame gocv.Mat, box image.Rectangle) (int, error) {
	g, err := toGray(frame, &c.gray)
	if err != nil {
		return 0, err
	}
	return len(c.eyeCandidates(g, box)), nil
}

// eyeCandidates returns the eye detections in the upper part of box, in
// frame coordinates.
func (c *Cascade) eyeCandidates(g gocv.Mat, box image.Rectangle) []image.Rectangle {
	up := image.Rect(box.Min.X, box.Min.Y+box.Dy()/8, box.Max.X, box.Min.Y+box.Dy()*3/5).Intersect(image.Rect(0, 0, g.Cols(), g.Rows()))
	if up.Dx() < 16 || up.Dy() < 8 {
		return nil
	}
	roi := g.Region(up)
	defer roi.Close()
	lo, hi := max(box.Dx()/9, 8), max(box.Dx()/3, 9)
	rs := c.eye.DetectMultiScaleWithParams(roi, 1.1, 3, 0, image.Pt(lo, lo), image.Pt(hi, hi))
	for i := range rs {
		rs[i] = rs[i].Add(up.Min)
	}
	return rs
}

// findEyes picks, among the eye detections, the pair that best fits a face:
// one in each half, at similar heights, a plausible distance apart.
func (c *Cascade) findEyes(g gocv.Mat, box image.Rectangle) ([2]image.Point, bool) {
	rs := c.eyeCandidates(g, box)
	cx := box.Min.X + box.Dx()/2
	best, bestCost := [2]image.Point{}, math.Inf(1)
	for _, a := range rs {
		for _, b := range rs {
			pa, pb := center(a), center(b)
			if pa.X >= cx || pb.X < cx {
				continue
			}
			dx, dy := float64(pb.X-pa.X), math.Abs(float64(pb.Y-pa.Y))
			w := float64(box.Dx())
			if dx < 0.25*w || dx > 0.65*w || dy > 0.15*w {
				continue
			}
			// Prefer level eyes, symmetric about the box centre.
			cost := dy/w + math.Abs(float64(pa.X+pb.X)/2-float64(cx))/w
			if cost < bestCost {
				best, bestCost = [2]image.Point{pa, pb}, cost
			}
		}
	}
	return best, !math.IsInf(bestCost, 1)
}

func center(r image.Rectangle) image.Point {
	return image.Pt((r.Min.X+r.Max.X)/2, (r.Min.Y+r.Max.Y)/2)
}

func sortFaces(fs []Face) {
	sort.SliceStable(fs, func(i, j int) bool {
		return fs[i].Box.Dx()*fs[i].Box.Dy() > fs[j].Box.Dx()*fs[j].Box.Dy()
	})
}

// errFrame reports a frame the pipeline cannot use.
var errFrame = errors.New("face: empty frame or unsupported pixel type (want 8-bit grey, BGR or BGRA)")

// toGray returns frame as 8-bit grey, converting into buf when needed.
func toGray(frame gocv.Mat, buf *gocv.Mat) (gocv.Mat, error) {
	if frame.Empty() {
		return gocv.Mat{}, errFrame
	}
	switch frame.Type() {
	case gocv.MatTypeCV8UC1:
		return frame, nil
	case gocv.MatTypeCV8UC3:
		gocv.CvtColor(frame, buf, gocv.ColorBGRToGray)
	case gocv.MatTypeCV8UC4:
		gocv.CvtColor(frame, buf, gocv.ColorBGRAToGray)
	default:
		return gocv.Mat{}, errFrame
	}
	return *buf, nil
}
