package qr

// Reed–Solomon error correction over GF(256) as ISO/IEC 18004 defines it:
// the field is built on the primitive polynomial x⁸+x⁴+x³+x²+1 (0x11d)
// with α = 2, and the generator polynomial of degree n has the roots
// α⁰ … αⁿ⁻¹.

var gfExp, gfLog = func() (exp [512]byte, log [256]byte) {
	x := 1
	for i := 0; i < 255; i++ {
		exp[i] = byte(x)
		log[x] = byte(i)
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11d
		}
	}
	// A second period spares a modulo in gfMul.
	for i := 255; i < 512; i++ {
		exp[i] = exp[i-255]
	}
	return exp, log
}()

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[int(gfLog[a])+int(gfLog[b])]
}

// generator returns the coefficients of ∏(x − αⁱ), i < n, highest degree
// first, without the leading 1.
func generator(n int) []byte {
	g := make([]byte, n+1)
	g[0] = 1
	for i := 0; i < n; i++ {
		// Multiply by (x + αⁱ); in GF(2⁸) minus is plus.
		a := gfExp[i]
		for j := i + 1; j > 0; j-- {
			g[j] ^= gfMul(g[j-1], a)
		}
	}
	return g[1:]
}

// generators holds the generator for each number of error correction
// codewords a block at level M has.
var generators = func() map[int][]byte {
	g := make(map[int][]byte)
	for _, b := range blocksM {
		if g[b.ec] == nil {
			g[b.ec] = generator(b.ec)
		}
	}
	return g
}()

// ecc returns the error correction codewords of data: the remainder of
// data·xⁿ divided by the generator of degree n = len(gen).
func ecc(data, gen []byte) []byte {
	rem := make([]byte, len(gen))
	for _, d := range data {
		f := d ^ rem[0]
		copy(rem, rem[1:])
		rem[len(rem)-1] = 0
		if f == 0 {
			continue
		}
		lf := int(gfLog[f])
		for i, c := range gen {
			if c != 0 {
				rem[i] ^= gfExp[lf+int(gfLog[c])]
			}
		}
	}
	return rem
}
