package face

import (
	"context"
	"image"
	"math"
	"sort"
	"testing"

	"gocv.io/x/gocv"
)

const orlScale = 2.5 // 92×112 ORL faces become 230×280 in a 640×480 frame

var sceneCentre = image.Pt(sceneW/2, sceneH/2)

// liveSequence builds the frames of a live citizen from the ten ORL images
// of one subject, which vary in pose: three frames of the most frontal
// image (a few pixels apart, as a hand-held head is never still), then the
// images that turn further one way, in order. It returns the frames and the
// challenge they answer, or no frames when the subject's images do not turn.
func liveSequence(t *testing.T, e *Engine, imgs []gocv.Mat) ([]gocv.Mat, Challenge) {
	t.Helper()
	type posed struct {
		i   int
		yaw float64
	}
	var ps []posed
	for i, m := range imgs {
		fr := place(m, orlScale, sceneCentre)
		c, err := e.Check(context.Background(), fr)
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := c.Face(); ok {
			g := gocv.NewMat()
			gocv.CvtColor(fr, &g, gocv.ColorBGRToGray)
			ps = append(ps, posed{i, symmetryAxis(g, f.Box)})
			g.Close()
		}
		fr.Close()
	}
	if len(ps) < 3 {
		return nil, ""
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a].yaw < ps[b].yaw })
	mid := len(ps) / 2
	base := ps[mid]
	var order []posed
	ch := TurnLeft // positive yaw: the citizen's left
	if ps[len(ps)-1].yaw-base.yaw >= base.yaw-ps[0].yaw {
		order = ps[mid+1:]
	} else {
		ch = TurnRight
		for k := mid - 1; k >= 0; k-- {
			order = append(order, ps[k])
		}
	}
	var frames []gocv.Mat
	for k := 0; k < 3; k++ {
		frames = append(frames, place(imgs[base.i], orlScale, sceneCentre.Add(image.Pt(2*k, k))))
	}
	for _, p := range order {
		frames = append(frames, place(imgs[p.i], orlScale, sceneCentre.Add(image.Pt(4, 2))))
	}
	return frames, ch
}

// photoAttack builds the frames of a printed photo (or, with onPhone, a
// phone screen showing it) of one face, held up and moved: shifted, turned
// in the plane, brought closer and tilted about its vertical axis up to
// ±35°, which shifts the face's symmetry axis as a head turn does.
func photoAttack(img gocv.Mat, onPhone bool) []gocv.Mat {
	src, s := img, orlScale
	if onPhone {
		src, s = phone(img), 2.0
		defer src.Close()
	}
	var frames []gocv.Mat
	const n = 16
	for k := 0; k < n; k++ {
		ph := float64(k) / n * 2 * math.Pi
		c := sceneCentre.Add(image.Pt(int(25*math.Sin(ph)), int(10*math.Sin(2*ph))))
		h := affine(src, s*(1+0.1*math.Sin(ph/2)), 0.12*math.Sin(ph), c)
		h = tilt(h, 0.6*math.Sin(ph), 700, c)
		frames = append(frames, warpOnto(src, h))
	}
	return frames
}

// runChallenge feeds frames to a new session and returns the final report.
func runChallenge(t *testing.T, e *Engine, ch Challenge, frames []gocv.Mat) Liveness {
	t.Helper()
	s := e.NewSession(ch)
	defer s.Close()
	var l Liveness
	for _, f := range frames {
		st, err := s.Feed(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		l = st.Liveness
		if l.State != Pending {
			break
		}
	}
	return l
}

func closeAll(ms []gocv.Mat) {
	for _, m := range ms {
		m.Close()
	}
}

// Figures of TestLivenessORL (docs/faces.md).
const (
	livePassedORL = 27 // of the 40 ORL subjects' turn sequences
)

func TestLivenessORL(t *testing.T) {
	set := loadORL(t)
	e, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	live := 0
	spoofed := map[string]int{}
	fakedTurn, attacks := 0, 0
	for s, imgs := range set {
		frames, ch := liveSequence(t, e, imgs)
		if frames != nil {
			l := runChallenge(t, e, ch, frames)
			if l.State == Passed {
				live++
			}
			t.Logf("s%-2d live  %-10s %-7s turn %.2f depth %.2f %s", s+1, ch, l.State, l.Turn, l.Depth, l.Reason)
			closeAll(frames)
		}
		if s%4 != 0 {
			continue // attacks on every other subject keep the test short
		}
		for _, kind := range []string{"photo", "phone"} {
			frames := photoAttack(imgs[0], kind == "phone")
			// The attack tilts both ways, so either challenge gets a turn.
			ch := []Challenge{TurnLeft, TurnRight}[s/4%2]
			l := runChallenge(t, e, ch, frames)
			attacks++
			t.Logf("s%-2d %-5s %-10s %-7s turn %.2f depth %.2f", s+1, kind, ch, l.State, l.Turn, l.Depth)
			if l.State == Passed {
				spoofed[kind]++
			}
			if l.Turn >= 1 {
				fakedTurn++
			}
			closeAll(frames)
		}
	}
	t.Logf("live passed %d/40; attacks passed: photo %d, phone %d of %d; attacks that faked the turn: %d", live, spoofed["photo"], spoofed["phone"], attacks, fakedTurn)
	// The attacks must fake the asked turn often enough that the parallax
	// test, not the turn, is what stops them.
	if fakedTurn < attacks/3 {
		t.Errorf("only %d of %d attacks faked the head turn: the test no longer exercises the parallax cue", fakedTurn, attacks)
	}
	if live < livePassedORL {
		t.Errorf("%d live sequences passed, fewer than the %d measured", live, livePassedORL)
	}
	if spoofed["photo"]+spoofed["phone"] > 0 {
		t.Errorf("flat attacks passed: %v", spoofed)
	}
}
