package qr

import "math"

// alignments lists, for each version from 2, the row and column
// coordinates of the alignment patterns' centres (Annex E, Table E.1).
var alignments = [41][]int{
	2: {6, 18}, 3: {6, 22}, 4: {6, 26}, 5: {6, 30}, 6: {6, 34},
	7: {6, 22, 38}, 8: {6, 24, 42}, 9: {6, 26, 46}, 10: {6, 28, 50},
	11: {6, 30, 54}, 12: {6, 32, 58}, 13: {6, 34, 62},
	14: {6, 26, 46, 66}, 15: {6, 26, 48, 70}, 16: {6, 26, 50, 74},
	17: {6, 30, 54, 78}, 18: {6, 30, 56, 82}, 19: {6, 30, 58, 86}, 20: {6, 34, 62, 90},
	21: {6, 28, 50, 72, 94}, 22: {6, 26, 50, 74, 98}, 23: {6, 30, 54, 78, 102},
	24: {6, 28, 54, 80, 106}, 25: {6, 32, 58, 84, 110}, 26: {6, 30, 58, 86, 114},
	27: {6, 34, 62, 90, 118},
	28: {6, 26, 50, 74, 98, 122}, 29: {6, 30, 54, 78, 102, 126}, 30: {6, 26, 52, 78, 104, 130},
	31: {6, 30, 56, 82, 108, 134}, 32: {6, 34, 60, 86, 112, 138}, 33: {6, 30, 58, 86, 114, 142},
	34: {6, 34, 62, 90, 118, 146},
	35: {6, 30, 54, 78, 102, 126, 150}, 36: {6, 24, 50, 76, 102, 128, 154},
	37: {6, 28, 54, 80, 106, 132, 158}, 38: {6, 32, 58, 84, 110, 136, 162},
	39: {6, 26, 54, 82, 110, 138, 166}, 40: {6, 30, 58, 86, 114, 142, 170},
}

// symbol is a matrix under construction: dark modules and, apart, the
// modules that function patterns and format and version information take,
// which data and masks leave alone.
type symbol struct {
	size int
	dark []bool
	fn   []bool
	cols []bool // dark transposed, for penalty
}

func (s *symbol) set(x, y int, dark bool) {
	s.dark[y*s.size+x] = dark
	s.fn[y*s.size+x] = true
}

// newSymbol draws the function patterns of version (6.3) and its version
// information, and reserves the format information's modules.
func newSymbol(version int) *symbol {
	n := 17 + 4*version
	s := &symbol{size: n, dark: make([]bool, n*n), fn: make([]bool, n*n)}
	// Finder patterns with their separators: concentric squares, dark
	// 7×7, light 5×5, dark 3×3, ringed by a light band inside the symbol.
	for _, c := range [][2]int{{3, 3}, {n - 4, 3}, {3, n - 4}} {
		for dy := -4; dy <= 4; dy++ {
			for dx := -4; dx <= 4; dx++ {
				x, y := c[0]+dx, c[1]+dy
				if x < 0 || y < 0 || x >= n || y >= n {
					continue
				}
				d := max(abs(dx), abs(dy))
				s.set(x, y, d != 2 && d != 4)
			}
		}
	}
	// Alignment patterns, except the three the finders cover.
	a := alignments[version]
	for i, cy := range a {
		for j, cx := range a {
			if (i == 0 && j == 0) || (i == 0 && j == len(a)-1) || (i == len(a)-1 && j == 0) {
				continue
			}
			for dy := -2; dy <= 2; dy++ {
				for dx := -2; dx <= 2; dx++ {
					s.set(cx+dx, cy+dy, max(abs(dx), abs(dy)) != 1)
				}
			}
		}
	}
	// Timing patterns along row and column 6, between the separators.
	for i := 8; i < n-8; i++ {
		s.set(i, 6, i%2 == 0)
		s.set(6, i, i%2 == 0)
	}
	// Format information's modules and the dark module beside them.
	s.format(0)
	s.set(8, n-8, true)
	if version >= 7 {
		bits := bch(uint32(version), 0x1f25, 12)
		for i := 0; i < 18; i++ {
			d := bits>>i&1 != 0
			a, b := n-11+i%3, i/3
			s.set(a, b, d)
			s.set(b, a, d)
		}
	}
	return s
}

// format draws the format information (7.9) for level M and mask: its 15
// bits down and across the top-left finder, and again split between the
// other two.
func (s *symbol) format(mask int) {
	const levelM = 0b00
	bits := bch(levelM<<3|uint32(mask), 0x537, 10) ^ 0x5412
	n := s.size
	for i := 0; i < 15; i++ {
		d := bits>>i&1 != 0
		// Around the top-left finder, skipping the timing patterns.
		switch {
		case i < 6:
			s.set(8, i, d)
		case i < 8:
			s.set(8, i+1, d)
		case i == 8:
			s.set(7, 8, d)
		default:
			s.set(14-i, 8, d)
		}
		// Below the top-right finder's row and right of the bottom-left's column.
		if i < 8 {
			s.set(n-1-i, 8, d)
		} else {
			s.set(8, n-15+i, d)
		}
	}
}

// bch appends to data the remainder of data·x^deg divided by poly, the
// (15,5) code of format information or the (18,6) of version information.
func bch(data, poly uint32, deg int) uint32 {
	rem := data << deg
	for i := 31; i >= deg; i-- {
		if rem>>i&1 != 0 {
			rem ^= poly << (i - deg)
		}
	}
	return data<<deg | rem
}

// place writes the codewords into the modules that are not function
// modules (7.7.3): two columns at a time from the bottom-right corner, up
// then down, stepping over the vertical timing pattern. The remainder
// bits after the last codeword are light.
func (s *symbol) place(cw []byte) {
	n := s.size
	bit := 0
	up := true
	for right := n - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		for k := 0; k < n; k++ {
			y := k
			if up {
				y = n - 1 - k
			}
			for x := right; x >= right-1; x-- {
				if s.fn[y*n+x] {
					continue
				}
				if bit < len(cw)*8 {
					s.dark[y*n+x] = cw[bit/8]>>(7-bit%8)&1 != 0
				}
				bit++
			}
		}
		up = !up
	}
}

// masked reports whether mask pattern m (Table 10) inverts the module in
// row i, column j.
func masked(m, i, j int) bool {
	switch m {
	case 0:
		return (i+j)%2 == 0
	case 1:
		return i%2 == 0
	case 2:
		return j%3 == 0
	case 3:
		return (i+j)%3 == 0
	case 4:
		return (i/2+j/3)%2 == 0
	case 5:
		return i*j%2+i*j%3 == 0
	case 6:
		return (i*j%2+i*j%3)%2 == 0
	default:
		return ((i+j)%2+i*j%3)%2 == 0
	}
}

// applyMask inverts the data modules that mask m selects; applying it
// twice restores the symbol.
func (s *symbol) applyMask(m int) {
	n := s.size
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if !s.fn[i*n+j] && masked(m, i, j) {
				s.dark[i*n+j] = !s.dark[i*n+j]
			}
		}
	}
}

// chooseMask applies, with its format information, the mask of the lowest
// penalty, the first of them on a tie, as ZXing's encoder does.
func (s *symbol) chooseMask() {
	best, bestPenalty := 0, math.MaxInt
	for m := 0; m < 8; m++ {
		s.applyMask(m)
		s.format(m)
		if p := s.penalty(); p < bestPenalty {
			best, bestPenalty = m, p
		}
		s.applyMask(m)
	}
	s.applyMask(best)
	s.format(best)
}

// penalty scores the symbol by the rules of 7.8.3 with the weights
// N1 = 3, N2 = 3, N3 = 40, N4 = 10, counted as ZXing counts them.
func (s *symbol) penalty() int {
	n := s.size
	p := 0
	if len(s.cols) != n*n {
		s.cols = make([]bool, n*n)
	}
	for y := 0; y < n; y++ {
		for x, v := range s.dark[y*n : (y+1)*n] {
			s.cols[x*n+y] = v
		}
	}
	for i := 0; i < n; i++ {
		p += linePenalty(s.dark[i*n : (i+1)*n])
		p += linePenalty(s.cols[i*n : (i+1)*n])
	}
	// N2: each 2×2 block of one colour scores 3, overlapping blocks too.
	darks := 0
	d := s.dark
	for y := 0; y < n; y++ {
		row, next := d[y*n:(y+1)*n], d[min(y+1, n-1)*n:]
		for x, v := range row {
			if v {
				darks++
			}
			if x+1 < n && y+1 < n && v == row[x+1] && v == next[x] && v == next[x+1] {
				p += 3
			}
		}
	}
	// N4: 10 for each full 5 % the dark modules' share is away from half.
	total := n * n
	p += abs(2*darks-total) * 10 / total * 10
	return p
}

// linePenalty scores rules N1 and N3 on one row or column.
func linePenalty(d []bool) int {
	p := 0
	// N1: a run of five or more modules of one colour scores 3, and 1 for
	// each module beyond five.
	run := 0
	for k, v := range d {
		if k > 0 && v == d[k-1] {
			run++
			continue
		}
		if run >= 5 {
			p += 3 + run - 5
		}
		run = 1
	}
	if run >= 5 {
		p += 3 + run - 5
	}
	// N3: dark-light-dark-dark-dark-light-dark with four light modules on
	// either side, the outside of the symbol counting as light, scores 40.
	for k := 0; k+6 < len(d); k++ {
		w := d[k : k+7]
		if w[0] && !w[1] && w[2] && w[3] && w[4] && !w[5] && w[6] &&
			(light(d[max(k-4, 0):k]) || light(d[k+7:min(k+11, len(d))])) {
			p += 40
		}
	}
	return p
}

func light(d []bool) bool {
	for _, v := range d {
		if v {
			return false
		}
	}
	return true
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
