package face

import (
	"errors"
	"fmt"
	"math"
)

// uniform maps an 8-bit LBP code to its bin among the 59 of the uniform
// LBP(8,R) operator (Ojala, Pietikäinen and Mäenpää, "Multiresolution
// gray-scale and rotation invariant texture classification with local binary
// patterns", IEEE PAMI 24(7), 2002, section 2.3): the 58 codes with at most
// two 0/1 transitions around the circle get one bin each, every other code
// shares the last bin.
var uniform = func() [256]uint8 {
	var t [256]uint8
	next := uint8(0)
	for c := 0; c < 256; c++ {
		transitions := 0
		for i := 0; i < 8; i++ {
			if (c>>i)&1 != (c>>((i+1)%8))&1 {
				transitions++
			}
		}
		if transitions <= 2 {
			t[c] = next
			next++
		} else {
			t[c] = 58
		}
	}
	return t
}()

const lbpBins = 59

// lbpParams are the settings of the LBP descriptor.
type lbpParams struct {
	radius float64 // of the sampling circle, in pixels of the aligned crop
	grid   int     // cells per side
	shift  int     // pixels by which cells are also shifted, for pose tolerance
}

// lbpCodes computes the uniform LBP(8,radius) bin of every pixel of the
// w×h grey image pix at least ceil(radius)+1 pixels from the border;
// neighbours off the pixel grid are sampled bilinearly. Border pixels get
// bin 255, which histograms skip.
func lbpCodes(pix []byte, w, h int, radius float64) []uint8 {
	out := make([]uint8, w*h)
	for i := range out {
		out[i] = 255
	}
	type tap struct {
		x0, y0             int
		w00, w01, w10, w11 float64
	}
	var taps [8]tap
	for k := 0; k < 8; k++ {
		a := 2 * math.Pi * float64(k) / 8
		dx, dy := radius*math.Cos(a), -radius*math.Sin(a)
		// Snap near-integer offsets so that radius 1 samples exact pixels.
		if math.Abs(dx-math.Round(dx)) < 1e-6 {
			dx = math.Round(dx)
		}
		if math.Abs(dy-math.Round(dy)) < 1e-6 {
			dy = math.Round(dy)
		}
		x0, y0 := math.Floor(dx), math.Floor(dy)
		fx, fy := dx-x0, dy-y0
		taps[k] = tap{int(x0), int(y0), (1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy}
	}
	m := int(math.Ceil(radius)) + 1
	for y := m; y < h-m; y++ {
		for x := m; x < w-m; x++ {
			c := float64(pix[y*w+x])
			code := 0
			for k, t := range taps {
				i := (y+t.y0)*w + x + t.x0
				v := t.w00*float64(pix[i]) + t.w01*float64(pix[i+1]) + t.w10*float64(pix[i+w]) + t.w11*float64(pix[i+w+1])
				// A small tolerance keeps flat regions stable under noise.
				if v >= c-1e-9 {
					code |= 1 << k
				}
			}
			out[y*w+x] = uniform[code]
		}
	}
	return out
}

// lbpParams are the settings of the LBP descriptor. They fix a template
// format: templates made with different settings do not compare.
var lbpDefault = lbpParams{radius: 2, grid: 7, shift: 5}

// lbpTemplate describes the w×h grey crop pix by the histograms of uniform
// LBP codes over a grid of cells, as in Ahonen, Hadid and Pietikäinen, "Face
// description with local binary patterns", IEEE PAMI 28(12), 2006. Each cell
// histogram is normalised to sum 1 and square-rooted (so that a dot product
// is the Bhattacharyya coefficient). To tolerate the pose changes of a live
// face, the template also holds the histograms of every cell shifted by
// ±shift pixels in x and y: nine sets of grid² histograms, the unshifted set
// first.
func lbpTemplate(pix []byte, w, h int, p lbpParams) ([]float32, error) {
	if w <= 0 || h <= 0 || len(pix) != w*h {
		return nil, fmt.Errorf("face: lbp: %d bytes for a %dx%d image", len(pix), w, h)
	}
	m := int(math.Ceil(p.radius)) + 1
	if w-2*m < 2*p.grid || h-2*m < 2*p.grid {
		return nil, errors.New("face: lbp: image too small for the grid")
	}
	codes := lbpCodes(pix, w, h, p.radius)
	cells := p.grid * p.grid
	tpl := make([]float32, 0, 9*cells*lbpBins)
	iw, ih := w-2*m, h-2*m
	for _, d := range shifts(p.shift) {
		for gy := 0; gy < p.grid; gy++ {
			y0, y1 := max(m+gy*ih/p.grid+d[1], 0), min(m+(gy+1)*ih/p.grid+d[1], h)
			for gx := 0; gx < p.grid; gx++ {
				x0, x1 := max(m+gx*iw/p.grid+d[0], 0), min(m+(gx+1)*iw/p.grid+d[0], w)
				var cell [lbpBins]float64
				n := 0
				for y := y0; y < y1; y++ {
					for x := x0; x < x1; x++ {
						if b := codes[y*w+x]; b < lbpBins {
							cell[b]++
							n++
						}
					}
				}
				for _, c := range cell {
					if n > 0 {
						c = math.Sqrt(c / float64(n))
					}
					tpl = append(tpl, float32(c))
				}
			}
		}
	}
	return tpl, nil
}

// shifts lists the cell offsets a template holds, the null offset first.
func shifts(s int) [9][2]int {
	return [9][2]int{{0, 0}, {-s, -s}, {0, -s}, {s, -s}, {-s, 0}, {s, 0}, {-s, s}, {0, s}, {s, s}}
}

// lbpSimilarity returns the similarity in [0, 1] of two templates made by
// lbpTemplate with parameters p: for each cell of one face, the best
// Bhattacharyya coefficient against the same cell of the other face at any
// of the stored shifts, averaged over cells and over both directions so
// that the score is symmetric. It returns 0 for templates of another size.
func lbpSimilarity(a, b []float32, p lbpParams) float64 {
	cells := p.grid * p.grid
	if len(a) != 9*cells*lbpBins || len(b) != len(a) {
		return 0
	}
	return (elastic(a, b, cells) + elastic(b, a, cells)) / 2
}

func elastic(a, b []float32, cells int) float64 {
	var s float64
	for c := 0; c < cells; c++ {
		ac := a[c*lbpBins : (c+1)*lbpBins]
		best := 0.0
		for k := 0; k < 9; k++ {
			off := (k*cells + c) * lbpBins
			bc := b[off : off+lbpBins]
			var d float64
			for i := range ac {
				d += float64(ac[i]) * float64(bc[i])
			}
			best = max(best, d)
		}
		s += best
	}
	return s / float64(cells)
}
