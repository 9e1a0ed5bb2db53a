package face

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/internal/shared"
)

// orlDir is the ORL face database (40 subjects × 10 images, 92×112 grey).
var orlDir = shared.Testdata("faces", "orl")

// loadORL reads the ORL set as [subject][image] grey matrices.
func loadORL(tb testing.TB) [][]gocv.Mat {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(orlDir, "s1", "1.pgm")); err != nil {
		tb.Fatalf("ORL face set missing: %v", err)
	}
	set := make([][]gocv.Mat, 40)
	for s := range set {
		set[s] = make([]gocv.Mat, 10)
		for i := range set[s] {
			p := filepath.Join(orlDir, fmt.Sprintf("s%d", s+1), fmt.Sprintf("%d.pgm", i+1))
			m := gocv.IMRead(p, gocv.IMReadGrayScale)
			if m.Empty() {
				tb.Fatalf("cannot read %s", p)
			}
			set[s][i] = m
		}
	}
	tb.Cleanup(func() {
		for _, s := range set {
			for _, m := range s {
				m.Close()
			}
		}
	})
	return set
}

// pairScores holds the scores of all genuine and impostor pairs.
type pairScores struct{ genuine, impostor []float64 }

// rates returns the false accept and false reject rates at threshold t
// (a pair matches when its score is at or above t). Both score lists must be
// sorted.
func (p pairScores) rates(t float64) (far, frr float64) {
	fr := sort.SearchFloat64s(p.genuine, t)                    // genuine scores below t
	fa := len(p.impostor) - sort.SearchFloat64s(p.impostor, t) // impostor scores at or above t
	return float64(fa) / float64(len(p.impostor)), float64(fr) / float64(len(p.genuine))
}

// eer returns the equal error rate and the threshold where FAR and FRR cross.
func (p pairScores) eer() (rate, threshold float64) {
	sort.Float64s(p.genuine)
	sort.Float64s(p.impostor)
	cands := append(append([]float64{}, p.genuine...), p.impostor...)
	best := math.Inf(1)
	for _, t := range cands {
		far, frr := p.rates(t)
		if d := math.Abs(far - frr); d < best {
			best, threshold, rate = d, t, (far+frr)/2
		}
	}
	return rate, threshold
}

// orlScores runs the production path (portrait detection, alignment,
// template, similarity) on every unordered pair of ORL images: 40 × 45 =
// 1,800 genuine pairs and 79,800 - 1,800 = 78,000 impostor pairs. An image
// in which no face is found gets no template, and every pair it is in
// scores -1: a false reject when genuine.
func orlScores(tb testing.TB, e *Engine) pairScores {
	tb.Helper()
	set := loadORL(tb)
	ctx := context.Background()
	tpl := make([][][]float32, len(set))
	for s := range set {
		tpl[s] = make([][]float32, len(set[s]))
		for i, m := range set[s] {
			t, err := e.PortraitTemplate(ctx, m)
			if err != nil && !errors.Is(err, ErrNoFace) {
				tb.Fatalf("s%d/%d: %v", s+1, i+1, err)
			}
			tpl[s][i] = t
		}
	}
	var ps pairScores
	for s1 := range tpl {
		for i1 := range tpl[s1] {
			for s2 := s1; s2 < len(tpl); s2++ {
				i2 := 0
				if s2 == s1 {
					i2 = i1 + 1
				}
				for ; i2 < len(tpl[s2]); i2++ {
					a, b := tpl[s1][i1], tpl[s2][i2]
					sc := -1.0
					if a != nil && b != nil {
						sc = e.Similarity(a, b)
					}
					if s1 == s2 {
						ps.genuine = append(ps.genuine, sc)
					} else {
						ps.impostor = append(ps.impostor, sc)
					}
				}
			}
		}
	}
	return ps
}

// Figures measured on ORL with the LBP matcher (docs/faces.md); the test
// fails when a change makes them worse.
const (
	orlEER        = 0.1467 // equal error rate reached
	orlEERMargin  = 0.0050
	orlFARClaimed = 0.0100 // false accept rate claimed at LBPThreshold
)

func TestORLErrorRates(t *testing.T) {
	e, err := Open(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ps := orlScores(t, e)
	if len(ps.genuine) != 1800 || len(ps.impostor) != 78000 {
		t.Fatalf("%d genuine and %d impostor pairs, want 1800 and 78000", len(ps.genuine), len(ps.impostor))
	}
	eer, at := ps.eer()
	far, frr := ps.rates(LBPThreshold)
	t.Logf("EER %.2f%% at %.4f; at threshold %.4f: FAR %.3f%% FRR %.2f%%", 100*eer, at, LBPThreshold, 100*far, 100*frr)
	for _, target := range []float64{0.001, 0.01, 0.05} {
		// The smallest threshold whose FAR is at most target.
		i := len(ps.impostor) - int(target*float64(len(ps.impostor)))
		th := ps.impostor[min(i, len(ps.impostor)-1)] + 1e-9
		fa, fr := ps.rates(th)
		t.Logf("threshold %.4f: FAR %.3f%% FRR %.2f%%", th, 100*fa, 100*fr)
	}
	if eer > orlEER+orlEERMargin {
		t.Errorf("EER %.2f%%, above the %.2f%% reached plus %.1f points", 100*eer, 100*orlEER, 100*orlEERMargin)
	}
	if far > orlFARClaimed {
		t.Errorf("FAR at the default threshold %.3f%%, above the %.2f%% claimed", 100*far, 100*orlFARClaimed)
	}
}
