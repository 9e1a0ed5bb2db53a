// Package qr is the project's own QR code encoder (ISO/IEC 18004): the
// customer panel (device/display/render), the PNG the browser shows
// (WritePNG, served by the UI as /api/display/qr.png) and the platform's
// enrolment codes (guichet-platform enrol-code --qr) all draw the Matrix
// that Encode returns, so that one payload gives one code wherever it is
// shown.
//
// It is written here rather than taken from ZXing because the reference
// platform must link none of the appliance's decoding stacks (issue 9:
// no gocv, PC/SC or ZXing in guichet-platform), and an encoder is small:
// one mode per payload, Reed–Solomon over GF(256), a fixed placement. Its
// tests hold it to ZXing's encoder module for module (gozxing stays a test
// dependency), so a code drawn today is the code drawn before.
//
// The choices are made here, once: error correction level M, which
// recovers about 15 % of damaged codewords (glare on a panel's glass, a
// smudged screen), as payment apps expect; the smallest version that holds
// the payload; the mode ZXing's encoder picks (numeric if every character
// is a digit, alphanumeric if every one is in that mode's 45 characters,
// else byte); the mask of the lowest penalty by the rules of ISO/IEC 18004
// 7.8.3, counted as ZXing counts them, the first on a tie; and, for a
// payload that is not ASCII, UTF-8 behind an ECI designator (26) so that
// phones do not read it as ISO 8859-1, the default of byte mode. The quiet
// zone is added when the matrix is drawn, four modules wide.
package qr

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"unicode/utf8"
)

// QuietZone is the width, in modules, of the light margin ISO/IEC 18004
// requires around a symbol (4X).
const QuietZone = 4

// MaxPayload is the most bytes a QR symbol can carry (version 40-L in byte
// mode); longer payloads are refused before any work.
const MaxPayload = 2953

// ErrTooBig reports a payload that no QR symbol at level M holds.
var ErrTooBig = errors.New("qr: payload too big for a QR code")

// Matrix is a QR symbol without its quiet zone: Size modules a side.
type Matrix struct {
	size int
	dark []bool
}

// Size returns the number of modules on a side (21 for version 1, 4 more
// for each version above).
func (m *Matrix) Size() int { return m.size }

// Dark reports whether the module in column x, row y is dark.
func (m *Matrix) Dark(x, y int) bool { return m.dark[y*m.size+x] }

// Encode encodes payload as a QR symbol with the choices the package
// documentation lists. It refuses an empty payload, one that is not valid
// UTF-8, and one too big (ErrTooBig).
func Encode(payload string) (*Matrix, error) {
	if payload == "" {
		return nil, errors.New("qr: empty payload")
	}
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes, a QR code holds at most %d", ErrTooBig, len(payload), MaxPayload)
	}
	if !utf8.ValidString(payload) {
		return nil, errors.New("qr: payload is not valid UTF-8")
	}
	version, cw := codewords(payload, !isASCII(payload))
	if version == 0 {
		return nil, fmt.Errorf("%w: %d bytes at level M", ErrTooBig, len(payload))
	}
	s := newSymbol(version)
	s.place(cw)
	s.chooseMask()
	m := &Matrix{size: s.size, dark: s.dark}
	return m, nil
}

// Image draws m with its quiet zone, scale pixels a module: dark modules
// are 0 (black), light ones and the quiet zone 255 (white).
func (m *Matrix) Image(scale int) *image.Gray {
	total := (m.size + 2*QuietZone) * scale
	img := image.NewGray(image.Rect(0, 0, total, total))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := 0; y < m.size; y++ {
		for x := 0; x < m.size; x++ {
			if !m.Dark(x, y) {
				continue
			}
			x0, y0 := (x+QuietZone)*scale, (y+QuietZone)*scale
			for dy := 0; dy < scale; dy++ {
				row := img.Pix[(y0+dy)*img.Stride+x0:]
				for dx := 0; dx < scale; dx++ {
					row[dx] = 0
				}
			}
		}
	}
	return img
}

// WritePNG encodes payload and writes it to w as a PNG image, black on
// white, scale pixels a module (1-255), with its quiet zone.
func WritePNG(w io.Writer, payload string, scale int) error {
	if scale < 1 || scale > 255 {
		return fmt.Errorf("qr: module width %d pixels, want 1-255", scale)
	}
	m, err := Encode(payload)
	if err != nil {
		return err
	}
	if err := png.Encode(w, m.Image(scale)); err != nil {
		return fmt.Errorf("qr: write PNG: %w", err)
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
