package qr

// blocks is how a version splits its codewords at one error correction
// level (ISO/IEC 18004 Table 9): n1 blocks of d1 data codewords, then n2
// of d1+1, each followed by ec error correction codewords.
type blocks struct {
	ec     int
	n1, d1 int
	n2     int
}

// dataCodewords is the number of data codewords the version holds.
func (b blocks) dataCodewords() int { return b.n1*b.d1 + b.n2*(b.d1+1) }

// blocksM is Table 9's level M column, indexed by version − 1.
var blocksM = [40]blocks{
	{10, 1, 16, 0}, {16, 1, 28, 0}, {26, 1, 44, 0}, {18, 2, 32, 0}, {24, 2, 43, 0},
	{16, 4, 27, 0}, {18, 4, 31, 0}, {22, 2, 38, 2}, {22, 3, 36, 2}, {26, 4, 43, 1},
	{30, 1, 50, 4}, {22, 6, 36, 2}, {22, 8, 37, 1}, {24, 4, 40, 5}, {24, 5, 41, 5},
	{28, 7, 45, 3}, {28, 10, 46, 1}, {26, 9, 43, 4}, {26, 3, 44, 11}, {26, 3, 41, 13},
	{26, 17, 42, 0}, {28, 17, 46, 0}, {28, 4, 47, 14}, {28, 6, 45, 14}, {28, 8, 47, 13},
	{28, 19, 46, 4}, {28, 22, 45, 3}, {28, 3, 45, 23}, {28, 21, 45, 7}, {28, 19, 47, 10},
	{28, 2, 46, 29}, {28, 10, 46, 23}, {28, 14, 46, 21}, {28, 14, 46, 23}, {28, 12, 47, 26},
	{28, 6, 47, 34}, {28, 29, 46, 14}, {28, 13, 46, 32}, {28, 40, 47, 7}, {28, 18, 47, 31},
}

// Modes, with their 4-bit indicators (Table 2).
const (
	modeNumeric      = 0b0001
	modeAlphanumeric = 0b0010
	modeByte         = 0b0100
	modeECI          = 0b0111
)

// eciUTF8 is the ECI assignment number of UTF-8.
const eciUTF8 = 26

const alphanumerics = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// alphanumeric maps a byte to its value in alphanumeric mode, or -1.
var alphanumeric = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(alphanumerics); i++ {
		t[alphanumerics[i]] = int8(i)
	}
	return t
}()

// chooseMode returns the one mode the whole payload is written in, as
// ZXing's encoder chooses it: numeric if every byte is a digit,
// alphanumeric if every byte is in that mode's 45 characters, else byte.
// Mixing modes would sometimes be shorter, but the code must be ZXing's.
func chooseMode(p string) int {
	digits := true
	for i := 0; i < len(p); i++ {
		c := p[i]
		if alphanumeric[c] < 0 {
			return modeByte
		}
		if c < '0' || c > '9' {
			digits = false
		}
	}
	if digits {
		return modeNumeric
	}
	return modeAlphanumeric
}

// countBits is the width of the character count indicator (Table 3),
// which grows at versions 10 and 27.
func countBits(mode, version int) int {
	i := 0
	switch {
	case version >= 27:
		i = 2
	case version >= 10:
		i = 1
	}
	switch mode {
	case modeNumeric:
		return [3]int{10, 12, 14}[i]
	case modeAlphanumeric:
		return [3]int{9, 11, 13}[i]
	default:
		return [3]int{8, 16, 16}[i]
	}
}

// bitWriter appends bits, most significant first.
type bitWriter struct {
	buf []byte
	n   int // bits written
}

func (w *bitWriter) write(v uint32, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>i&1 != 0 {
			w.buf[w.n/8] |= 0x80 >> (w.n % 8)
		}
		w.n++
	}
}

// segment writes p's characters in mode, without header or count.
func segment(w *bitWriter, mode int, p string) {
	switch mode {
	case modeNumeric:
		for i := 0; i < len(p); i += 3 {
			g := p[i:min(i+3, len(p))]
			v := uint32(0)
			for j := 0; j < len(g); j++ {
				v = v*10 + uint32(g[j]-'0')
			}
			w.write(v, []int{0, 4, 7, 10}[len(g)])
		}
	case modeAlphanumeric:
		for i := 0; i < len(p); i += 2 {
			if i+1 < len(p) {
				w.write(uint32(alphanumeric[p[i]])*45+uint32(alphanumeric[p[i+1]]), 11)
			} else {
				w.write(uint32(alphanumeric[p[i]]), 6)
			}
		}
	default:
		for i := 0; i < len(p); i++ {
			w.write(uint32(p[i]), 8)
		}
	}
}

// codewords returns the version that holds p at level M and the
// symbol's codewords in the order they are placed: the data codewords
// interleaved across blocks, then the error correction codewords. It
// returns version 0 if no version holds p.
func codewords(p string, utf8ECI bool) (int, []byte) {
	mode := chooseMode(p)
	var data bitWriter
	segment(&data, mode, p)
	header := 4
	if mode == modeByte && utf8ECI {
		header += 4 + 8 // ECI 26 takes one byte (0xxxxxxx)
	}
	version := 0
	for v := 1; v <= 40; v++ {
		bits := header + countBits(mode, v) + data.n
		if (bits+7)/8 <= blocksM[v-1].dataCodewords() {
			version = v
			break
		}
	}
	if version == 0 {
		return 0, nil
	}
	b := blocksM[version-1]
	capacity := b.dataCodewords() * 8

	var w bitWriter
	w.buf = make([]byte, 0, b.dataCodewords())
	if header > 4 {
		w.write(modeECI, 4)
		w.write(eciUTF8, 8)
	}
	w.write(uint32(mode), 4)
	w.write(uint32(len(p)), countBits(mode, version))
	for i := 0; i < data.n; i += 8 {
		w.write(uint32(data.buf[i/8])>>(8-min(8, data.n-i)), min(8, data.n-i))
	}
	// Terminator, up to four zero bits, then zeros to the byte boundary
	// (write allocates the byte), then the pad codewords.
	w.n = min(w.n+4, capacity)
	if len(w.buf)*8 < w.n {
		w.buf = append(w.buf, 0)
	}
	for pad := byte(0xec); len(w.buf) < b.dataCodewords(); pad ^= 0xec ^ 0x11 {
		w.buf = append(w.buf, pad)
	}
	return version, interleave(w.buf, b)
}

// interleave splits data into b's blocks, appends each block's error
// correction codewords and takes the codewords column by column (8.6).
func interleave(data []byte, b blocks) []byte {
	n := b.n1 + b.n2
	blks := make([][]byte, n)
	eccs := make([][]byte, n)
	gen := generators[b.ec]
	off := 0
	for i := range blks {
		d := b.d1
		if i >= b.n1 {
			d++
		}
		blks[i] = data[off : off+d]
		eccs[i] = ecc(blks[i], gen)
		off += d
	}
	out := make([]byte, 0, len(data)+n*b.ec)
	for i := 0; i <= b.d1; i++ {
		for _, blk := range blks {
			if i < len(blk) {
				out = append(out, blk[i])
			}
		}
	}
	for i := 0; i < b.ec; i++ {
		for _, e := range eccs {
			out = append(out, e[i])
		}
	}
	return out
}
