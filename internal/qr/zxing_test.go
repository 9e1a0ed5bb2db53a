package qr_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/encoder"

	"github.com/guichet/guichet/internal/qr"
)

// zxing encodes p with ZXing's encoder making the choices the package
// makes: level M and, for a payload that is not ASCII, UTF-8 behind its
// ECI designator. It returns the modules row by row.
func zxing(p string) (size int, dark []bool, err error) {
	var hints map[gozxing.EncodeHintType]any
	for i := 0; i < len(p); i++ {
		if p[i] >= 0x80 {
			hints = map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_CHARACTER_SET: "UTF-8"}
			break
		}
	}
	c, err := encoder.Encoder_encode(p, decoder.ErrorCorrectionLevel_M, hints)
	if err != nil {
		return 0, nil, err
	}
	m := c.GetMatrix()
	n := m.GetWidth()
	dark = make([]bool, n*n)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			dark[y*n+x] = m.Get(x, y) == 1
		}
	}
	return n, dark, nil
}

// sameAsZXing fails unless Encode and ZXing's encoder both refuse p or
// both draw the same modules.
func sameAsZXing(t testing.TB, p string) *qr.Matrix {
	t.Helper()
	m, err := qr.Encode(p)
	n, want, zerr := zxing(p)
	switch {
	case err != nil && zerr != nil:
		if !errors.Is(err, qr.ErrTooBig) {
			t.Fatalf("%s: Encode refuses with %v, want ErrTooBig (ZXing: %v)", show(p), err, zerr)
		}
		return nil
	case err != nil || zerr != nil:
		t.Fatalf("%s: Encode says %v, ZXing %v", show(p), err, zerr)
	}
	if m.Size() != n {
		t.Fatalf("%s: %d modules a side, ZXing %d", show(p), m.Size(), n)
	}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if m.Dark(x, y) != want[y*n+x] {
				t.Fatalf("%s: module (%d,%d) of %d: dark %v, ZXing %v", show(p), x, y, n, m.Dark(x, y), want[y*n+x])
			}
		}
	}
	return m
}

func show(p string) string {
	if len(p) > 24 {
		return fmt.Sprintf("%q… (%d bytes)", p[:24], len(p))
	}
	return fmt.Sprintf("%q", p)
}

// roundTrip fails unless ZXing's reader reads m back as p.
func roundTrip(t *testing.T, m *qr.Matrix, p string) {
	t.Helper()
	if got := decode(t, m.Image(2)); got != p {
		t.Fatalf("%s decodes to %s", show(p), show(got))
	}
}

// kinds repeat an alphabet to a length: one per mode, and UTF-8 Chinese
// (three bytes a character, byte mode with ECI 26).
var kinds = []struct {
	name string
	make func(n int) string // n bytes
}{
	{"digits", func(n int) string { return repeat("3141592653589793238462643383279", n) }},
	{"alphanumeric", func(n int) string { return repeat("HTTPS://PAY.EXAMPLE/$42 %*+-.", n) }},
	{"bytes", func(n int) string { return repeat("00020101021229300012d156000000", n) }},
	{"chinese", func(n int) string { return repeat("最佳运输北京支付二维码", n/3*3) }},
}

func repeat(s string, n int) string { return strings.Repeat(s, n/len(s)+1)[:n] }

// TestSameAsZXing draws, for each mode, the longest payload each version
// from 1 to 40 holds at level M and one byte more, and checks each against
// ZXing's encoder module for module and with ZXing's reader.
func TestSameAsZXing(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			step := 1
			if k.name == "chinese" {
				step = 3
			}
			n := step // the longest payload found so far, in bytes
			for v := 1; v <= 40; v++ {
				// Grow n while the payload fits version v.
				lo, hi := n, qr.MaxPayload+step
				for hi-lo > step {
					mid := lo + (hi-lo)/2/step*step
					if m, err := qr.Encode(k.make(mid)); err == nil && m.Size() <= 17+4*v {
						lo = mid
					} else {
						hi = mid
					}
				}
				n = lo
				for _, l := range []int{n, n + step} {
					if l > qr.MaxPayload {
						continue
					}
					p := k.make(l)
					if m := sameAsZXing(t, p); m != nil {
						roundTrip(t, m, p)
					}
				}
			}
		})
	}
}

// TestSameAsZXingRandom compares payloads of random kinds and lengths,
// from a fixed seed.
func TestSameAsZXingRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(18004, 2015))
	alphabets := []string{
		"0123456789",
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:",
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !\"#&'()=?@[]{}\x00\t\n",
		"aé€中😀",
	}
	for i := 0; i < 300; i++ {
		a := []rune(alphabets[rng.IntN(len(alphabets))])
		n := 1 + rng.IntN(300)
		if i%10 == 0 {
			n = 1 + rng.IntN(qr.MaxPayload)
		}
		var b strings.Builder
		for b.Len() < n {
			b.WriteRune(a[rng.IntN(len(a))])
		}
		p := b.String()
		if m := sameAsZXing(t, p); m != nil && i%10 == 0 {
			roundTrip(t, m, p)
		}
	}
}

// FuzzEncode checks that any valid UTF-8 payload up to MaxPayload bytes
// gives ZXing's encoder's modules, or that both refuse it.
func FuzzEncode(f *testing.F) {
	for _, p := range payloads {
		f.Add(p)
	}
	f.Add("0123456789")
	f.Add("HELLO WORLD")
	f.Add(strings.Repeat("9", 400)) // version 9, with version information
	f.Fuzz(func(t *testing.T, p string) {
		if p == "" || !utf8.ValidString(p) || len(p) > qr.MaxPayload {
			if _, err := qr.Encode(p); err == nil {
				t.Fatalf("Encode accepted %s", show(p))
			}
			return
		}
		sameAsZXing(t, p)
	})
}
