// Package render draws a display.Screen (a QR payload and a few short text
// lines) into a one-bit image the size of a small monochrome panel, such as
// the 128x64 SSD1306 OLED on the counter.
//
// The layout is fixed so that what the customer sees does not depend on the
// driver: the QR code sits on the left as a lit square with its quiet zone,
// at the largest whole number of pixels per module that fits the panel's
// height, and the lines are drawn to its right in a 7x13 bitmap font
// (golang.org/x/image/font/basicfont), lit on an unlit background.
//
// The image is an *image.Gray whose pixels are either 0 (unlit) or 255 (lit),
// so any panel driver can pack it into its own format.
//
// What fits: a 64-pixel-high panel shows up to version 9 (53 modules, 61
// pixels with the quiet zone) at one pixel a module, that is 180 bytes, so
// an EMVCo merchant-presented payload of about 150 characters fits. A
// 32-pixel-high panel shows only version 1: 14 bytes, too few for any
// payment payload. On a 0.96" 128x64 module one pixel is about 0.17 mm, so
// such a code is about 10 mm wide; from how far a phone reads it is to be
// measured on the real panel. A larger panel of the same resolution (1.3",
// 1.54") gives bigger modules. BenchmarkCapacity reports these limits.
package render

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font/basicfont"
	"golang.org/x/text/unicode/norm"

	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/internal/qr"
)

// Lit and Unlit are the only two values a rendered pixel takes.
var (
	Lit   = color.Gray{Y: 255}
	Unlit = color.Gray{Y: 0}
)

// QuietZone is the width, in modules, of the light margin kept around the
// QR symbol, as ISO/IEC 18004 requires (4X). It cannot be narrowed here:
// beyond it the panel is dark, and a scanner would take that for modules.
const QuietZone = qr.QuietZone

// MaxPayload is the most bytes a QR symbol can carry (version 40-L in byte
// mode, ISO/IEC 18004); longer payloads are refused before any work.
const MaxPayload = qr.MaxPayload

// MaxSide bounds the panel size accepted, to keep a bad configuration from
// allocating a huge image.
const MaxSide = 4096

// face is the font of the text lines: 7 pixels a character, 13 a line.
var face = basicfont.Face7x13

// Gap is the unlit space, in pixels, between the QR code and the text.
const Gap = 2

// Marker ends a line cut short because it is wider than the panel.
// Characters the font lacks are drawn as U+FFFD, a boxed question mark.
const Marker = '>'

var (
	// ErrTooBig reports a QR payload that does not fit the panel at one
	// pixel per module with its quiet zone.
	ErrTooBig = errors.New("render: QR payload too big for the panel")
	// ErrTooManyLines reports more text lines than the panel's height holds.
	// Lines are never dropped silently: one of them could be the amount.
	ErrTooManyLines = errors.New("render: too many text lines for the panel")
	// ErrNoRoom reports text lines with no width left beside the QR code.
	ErrNoRoom = errors.New("render: no room for text beside the QR code")
)

// Screen renders s into a new image of the given size.
func Screen(s display.Screen, size image.Point) (*image.Gray, error) {
	if size.X <= 0 || size.Y <= 0 || size.X > MaxSide || size.Y > MaxSide {
		return nil, fmt.Errorf("render: bad panel size %dx%d", size.X, size.Y)
	}
	img := image.NewGray(image.Rectangle{Max: size})
	textX := Gap
	if s.QR != "" {
		code, err := Code(s.QR, min(size.X, size.Y))
		if err != nil {
			return nil, err
		}
		side := code.Rect.Dx()
		top := (size.Y - side) / 2
		copyGray(img, code, image.Pt(0, top))
		textX = side + Gap
	}
	s.Lines = s.Text()
	if len(s.Lines) == 0 {
		return img, nil
	}
	maxLines := size.Y / face.Height
	if len(s.Lines) > maxLines {
		return nil, fmt.Errorf("%w: %d lines, %dx%d holds %d", ErrTooManyLines, len(s.Lines), size.X, size.Y, maxLines)
	}
	cols := (size.X - textX) / face.Advance
	if cols < 1 {
		return nil, fmt.Errorf("%w: %dx%d panel", ErrNoRoom, size.X, size.Y)
	}
	top := (size.Y - len(s.Lines)*face.Height) / 2
	for i, line := range s.Lines {
		drawText(img, image.Pt(textX, top+i*face.Height+face.Ascent), Fit(line, cols))
	}
	return img, nil
}

// Fit returns the runes of line as they will be drawn in a column cols
// characters wide. Accented Latin letters lose their accents ("Payé" is
// drawn "Paye"), other characters the font lacks and control characters
// become U+FFFD, and a line too long is cut to cols runes, the last being
// Marker.
func Fit(line string, cols int) []rune {
	if cols <= 0 {
		return nil
	}
	out := make([]rune, 0, min(cols, len(line)))
	for _, r := range line {
		if len(out) == cols {
			out[cols-1] = Marker
			break
		}
		if r < 0x20 || r > 0x7e {
			r = fold(r)
		}
		out = append(out, r)
	}
	return out
}

// Code renders payload as a QR code, error correction level M, with its
// quiet zone, at the largest whole number of pixels per module whose symbol
// fits in a square of side pixels. Dark modules are Unlit, light ones Lit.
// The symbol is the one package internal/qr encodes, the same the UI's PNG
// shows.
func Code(payload string, side int) (*image.Gray, error) {
	m, err := Modules(payload)
	if err != nil {
		return nil, err
	}
	total := m.Size() + 2*QuietZone
	scale := side / total
	if scale < 1 {
		return nil, fmt.Errorf("%w: %d bytes need %d modules with quiet zone, panel has %d pixels",
			ErrTooBig, len(payload), total, side)
	}
	// qr draws dark modules 0 and light ones 255: Unlit and Lit.
	return m.Image(scale), nil
}

// Modules encodes payload as a QR symbol (ISO/IEC 18004) without quiet
// zone, with the choices of package internal/qr: error correction level M,
// which recovers about 15% of damaged codewords (glare on the panel's
// glass), and UTF-8 behind an ECI designator for a payload that is not
// ASCII.
func Modules(payload string) (*qr.Matrix, error) {
	m, err := qr.Encode(payload)
	if errors.Is(err, qr.ErrTooBig) {
		return nil, fmt.Errorf("%w: %v", ErrTooBig, err)
	}
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return m, nil
}

// fold returns the printable ASCII letter that r is an accented form of,
// found by canonical decomposition (Unicode NFD), or U+FFFD, which face
// draws as a boxed question mark.
func fold(r rune) rune {
	if r < 0x80 {
		return utf8.RuneError // a control character
	}
	d := norm.NFD.String(string(r))
	base, n := utf8.DecodeRuneInString(d)
	if base < 0x20 || base > 0x7e || n == len(d) {
		return utf8.RuneError
	}
	for _, m := range d[n:] {
		if !unicode.Is(unicode.Mn, m) {
			return utf8.RuneError
		}
	}
	return base
}

// copyGray copies src into dst with src's origin at at, clipped to dst.
func copyGray(dst, src *image.Gray, at image.Point) {
	r := src.Rect.Add(at).Intersect(dst.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		d := dst.Pix[dst.PixOffset(r.Min.X, y):dst.PixOffset(r.Max.X, y)]
		copy(d, src.Pix[src.PixOffset(r.Min.X-at.X, y-at.Y):])
	}
}

// drawText draws runes with their baseline starting at dot, lighting the
// pixels where the glyph's mask is at least half opaque.
func drawText(img *image.Gray, dot image.Point, runes []rune) {
	for _, r := range runes {
		for y := -face.Ascent; y < face.Descent; y++ {
			for x := 0; x < face.Width; x++ {
				if glyphBit(r, x, y+face.Ascent) {
					p := image.Pt(dot.X+face.Left+x, dot.Y+y)
					if p.In(img.Rect) {
						img.SetGray(p.X, p.Y, Lit)
					}
				}
			}
		}
		dot.X += face.Advance
	}
}

// glyphBit reports whether pixel (x, y) of r's glyph cell is inked.
func glyphBit(r rune, x, y int) bool {
	var mp image.Point
	for _, rng := range face.Ranges {
		if rng.Low <= r && r < rng.High {
			mp = image.Pt(0, (int(r-rng.Low)+rng.Offset)*(face.Ascent+face.Descent))
			_, _, _, a := face.Mask.At(mp.X+x, mp.Y+y).RGBA()
			return a >= 0x8000
		}
	}
	if r != utf8.RuneError {
		return glyphBit(utf8.RuneError, x, y)
	}
	return false
}
