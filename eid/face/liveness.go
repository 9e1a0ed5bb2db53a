package face

import (
	"fmt"
	"image"
	"math"
	"sort"

	"gocv.io/x/gocv"
)

// Challenge is what the citizen is asked to do to show a live face.
type Challenge string

// The challenges. Left and right are the citizen's own, for a camera whose
// picture is not mirrored.
const (
	TurnLeft  Challenge = "turn_left"
	TurnRight Challenge = "turn_right"
)

// Prompt is the instruction shown for c.
func (c Challenge) Prompt() string {
	switch c {
	case TurnLeft:
		return "look at the camera, then slowly turn your head to your left"
	case TurnRight:
		return "look at the camera, then slowly turn your head to your right"
	}
	return "look at the camera"
}

// State is where a liveness check stands.
type State string

// The states of a liveness check.
const (
	Pending State = "pending"
	Passed  State = "passed"
	Failed  State = "failed"
)

// Liveness reports the progress of the challenge.
type Liveness struct {
	Challenge Challenge `json:"challenge"`
	State     State     `json:"state"`
	Prompt    string    `json:"prompt"`
	// Turn is the head turn seen in the asked direction, as a fraction of
	// the turn required (1 or more: enough).
	Turn float64 `json:"turn"`
	// Depth is the largest non-planar motion seen inside the face, as a
	// fraction of the depth required (1 or more: the face moved like a
	// solid head, not like a picture).
	Depth float64 `json:"depth"`
	// Reason says why the check failed.
	Reason string `json:"reason,omitempty"`
}

// LiveLimits are the thresholds of the liveness check.
type LiveLimits struct {
	// MinTurn is the least shift of the face's symmetry axis, as a
	// fraction of the face width, in the asked direction.
	MinTurn float64
	// MinDepth is the least parallax: the 80th percentile of the distances
	// between the tracked points inside the face and where the best-fitting
	// homography (the motion of any flat picture) puts them, as a fraction
	// of the face width.
	MinDepth float64
	// MaxFrames is how many frames with a face the citizen has.
	MaxFrames int
	// MaxJump is the largest move of the face centre between two frames, as
	// a fraction of its width; more means another face took its place.
	MaxJump float64
}

// DefaultLiveLimits were set on the ORL sequences and warped-photo attacks
// of liveness_test.go (docs/faces.md).
var DefaultLiveLimits = LiveLimits{MinTurn: 0.04, MinDepth: 0.012, MaxFrames: 150, MaxJump: 0.35}

// liveTracker runs one challenge over the frames of a session.
type liveTracker struct {
	lim      LiveLimits
	ch       Challenge
	prev     gocv.Mat // grey frame of the previous observation
	prevBox  image.Rectangle
	baseline []float64
	frames   int
	turn     float64 // best turn in the asked direction, fraction of face width
	depth    float64 // best parallax, fraction of face width
	state    State
	reason   string
}

func newLiveTracker(ch Challenge, lim LiveLimits) *liveTracker {
	return &liveTracker{lim: lim, ch: ch, prev: gocv.NewMat(), state: Pending}
}

func (t *liveTracker) close() {
	wipeMat(&t.prev)
	t.prev.Close()
}

func (t *liveTracker) report() Liveness {
	l := Liveness{Challenge: t.ch, State: t.state, Prompt: t.ch.Prompt(), Reason: t.reason}
	l.Turn = math.Max(0, t.turn/t.lim.MinTurn)
	l.Depth = t.depth / t.lim.MinDepth
	return l
}

func (t *liveTracker) fail(reason string) {
	t.state, t.reason = Failed, reason
}

// observe feeds the grey frame g in which face f was found.
func (t *liveTracker) observe(g gocv.Mat, f Face) {
	if t.state != Pending {
		return
	}
	t.frames++
	box := f.Box
	if !t.prevBox.Empty() {
		c0, c1 := center(t.prevBox), center(box)
		jump := math.Hypot(float64(c1.X-c0.X), float64(c1.Y-c0.Y)) / float64(t.prevBox.Dx())
		ratio := float64(box.Dx()) / float64(t.prevBox.Dx())
		if jump > t.lim.MaxJump || ratio < 0.7 || ratio > 1.4 {
			t.fail("the face jumped between frames: keep one face in view and start again")
			return
		}
		if par, ok := parallax(t.prev, g, t.prevBox); ok {
			t.depth = math.Max(t.depth, par)
		}
	}
	yaw := symmetryAxis(g, box)
	if len(t.baseline) < 3 {
		t.baseline = append(t.baseline, yaw)
	} else {
		d := yaw - median(t.baseline)
		if t.ch == TurnRight {
			d = -d
		}
		t.turn = math.Max(t.turn, d)
	}
	g.CopyTo(&t.prev)
	t.prevBox = box
	switch {
	case t.turn >= t.lim.MinTurn && t.depth >= t.lim.MinDepth:
		t.state = Passed
	case t.frames >= t.lim.MaxFrames && t.turn < t.lim.MinTurn:
		t.fail("no head turn in the asked direction was seen")
	case t.frames >= t.lim.MaxFrames:
		t.fail("the face moved like a flat picture, not like a head: a photo or a screen?")
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// symmetryAxis estimates the head's yaw from a frontal detection: the
// horizontal position of the vertical axis about which the face is most
// symmetric, relative to the box centre, as a fraction of the box width.
// When the head turns, the nose and the eyes move toward the turn while the
// box follows the outline, so the axis leaves the centre. Positive is to
// the right of the image: the citizen's left for an unmirrored camera.
func symmetryAxis(g gocv.Mat, box image.Rectangle) float64 {
	band := image.Rect(box.Min.X, box.Min.Y+box.Dy()/4, box.Max.X, box.Min.Y+box.Dy()*17/20).Intersect(image.Rect(0, 0, g.Cols(), g.Rows()))
	if band.Dx() < 16 || band.Dy() < 8 {
		return 0
	}
	const w, h = 64, 48
	roi := g.Region(band)
	defer roi.Close()
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(roi, &small, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	pix := small.ToBytes()
	defer clear(pix)
	best, bestCost := 0, math.Inf(1)
	const half = 16
	for a := w/2 - 12; a <= w/2+12; a++ {
		var cost float64
		for y := 0; y < h; y++ {
			row := pix[y*w : (y+1)*w]
			for k := 1; k <= half; k++ {
				d := float64(row[a-k]) - float64(row[a+k-1])
				cost += math.Abs(d)
			}
		}
		if cost < bestCost {
			best, bestCost = a, cost
		}
	}
	return (float64(best) - w/2) / w
}

// parallax tracks corners of the face box of prev into cur with pyramidal
// Lucas-Kanade (forward and backward, keeping the tracks that come back to
// where they started) and fits a homography to them with RANSAC. Every
// point of a flat picture, however it is moved, tilted or bent slightly,
// follows one homography; the points of a real head turning do not (the
// nose moves across the cheeks). It returns the 80th percentile of the
// distances of the tracked points from the homography's prediction, as a
// fraction of the box width, and false when too few points were tracked or
// the face barely moved.
func parallax(prev, cur gocv.Mat, box image.Rectangle) (float64, bool) {
	in := image.Rect(box.Min.X+box.Dx()/10, box.Min.Y+box.Dy()/10, box.Max.X-box.Dx()/10, box.Max.Y-box.Dy()/10).Intersect(image.Rect(0, 0, prev.Cols(), prev.Rows()))
	if in.Dx() < 20 || in.Dy() < 20 || prev.Cols() != cur.Cols() || prev.Rows() != cur.Rows() {
		return 0, false
	}
	roi := prev.Region(in)
	corners := gocv.NewMat()
	gocv.GoodFeaturesToTrack(roi, &corners, 120, 0.01, float64(in.Dx())/25)
	roi.Close()
	defer corners.Close()
	n := corners.Rows()
	if n < 12 {
		return 0, false
	}
	cp, err := corners.DataPtrFloat32()
	if err != nil {
		return 0, false
	}
	for i := 0; i < n; i++ {
		cp[2*i] += float32(in.Min.X)
		cp[2*i+1] += float32(in.Min.Y)
	}
	next, back := gocv.NewMat(), gocv.NewMat()
	st1, st2, e1, e2 := gocv.NewMat(), gocv.NewMat(), gocv.NewMat(), gocv.NewMat()
	defer func() {
		for _, m := range []*gocv.Mat{&next, &back, &st1, &st2, &e1, &e2} {
			m.Close()
		}
	}()
	gocv.CalcOpticalFlowPyrLK(prev, cur, corners, next, &st1, &e1)
	if next.Rows() != n {
		return 0, false
	}
	gocv.CalcOpticalFlowPyrLK(cur, prev, next, back, &st2, &e2)
	np, err1 := next.DataPtrFloat32()
	bp, err2 := back.DataPtrFloat32()
	s1, err3 := st1.DataPtrUint8()
	s2, err4 := st2.DataPtrUint8()
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || back.Rows() != n {
		return 0, false
	}
	var src, dst []float32
	var moves []float64
	for i := 0; i < n; i++ {
		if s1[i] == 0 || s2[i] == 0 {
			continue
		}
		if math.Hypot(float64(bp[2*i]-cp[2*i]), float64(bp[2*i+1]-cp[2*i+1])) > 0.5 {
			continue
		}
		src = append(src, cp[2*i], cp[2*i+1])
		dst = append(dst, np[2*i], np[2*i+1])
		moves = append(moves, math.Hypot(float64(np[2*i]-cp[2*i]), float64(np[2*i+1]-cp[2*i+1])))
	}
	k := len(src) / 2
	w := float64(box.Dx())
	if k < 10 || median(moves) < 0.01*w {
		return 0, false
	}
	sm, err := pointsMat(src)
	if err != nil {
		return 0, false
	}
	defer sm.Close()
	dm, err := pointsMat(dst)
	if err != nil {
		return 0, false
	}
	defer dm.Close()
	mask := gocv.NewMat()
	defer mask.Close()
	h := gocv.FindHomography(sm, &dm, gocv.HomograpyMethodRANSAC, 0.01*w, &mask, 2000, 0.995)
	defer h.Close()
	if h.Empty() || h.Rows() != 3 || h.Cols() != 3 {
		return 0, false
	}
	var H [9]float64
	for i := range H {
		H[i] = h.GetDoubleAt(i/3, i%3)
	}
	res := make([]float64, k)
	for i := 0; i < k; i++ {
		x, y := float64(src[2*i]), float64(src[2*i+1])
		z := H[6]*x + H[7]*y + H[8]
		if z == 0 {
			return 0, false
		}
		px, py := (H[0]*x+H[1]*y+H[2])/z, (H[3]*x+H[4]*y+H[5])/z
		res[i] = math.Hypot(px-float64(dst[2*i]), py-float64(dst[2*i+1]))
	}
	sort.Float64s(res)
	return res[k*8/10] / w, true
}

// pointsMat packs x, y pairs into an N×1 two-channel float Mat.
func pointsMat(xy []float32) (gocv.Mat, error) {
	m := gocv.NewMatWithSize(len(xy)/2, 1, gocv.MatTypeCV32FC2)
	p, err := m.DataPtrFloat32()
	if err != nil || len(p) != len(xy) {
		m.Close()
		return gocv.Mat{}, fmt.Errorf("face: points: %v", err)
	}
	copy(p, xy)
	return m, nil
}
