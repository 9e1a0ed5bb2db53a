// Package codescan finds QR codes and linear barcodes in camera frames.
//
// A Decoder reads QR codes (ISO/IEC 18004) and Code 128 (ISO/IEC 15417),
// EAN-13, EAN-8 and UPC-A (ISO/IEC 15420) symbols in one image, using
// zxing-cpp from Debian's libzxing-dev and, for still images, OpenCV's
// wechat_qrcode module as a second QR decoder, both through a small cgo
// shim (shim.cpp). A Reader runs a camera and a Decoder in a loop and is a
// codereader.Reader, registered as the code reader driver "camera".
//
// The Decoder would rather miss a code than report one that is not there:
// EAN and UPC check digits are verified again here, and the decoders run
// without the options that produced false codes on the project's test
// images (see README.md for the measurements).
package codescan

import (
	"errors"
	"fmt"
	"image"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/guichet/guichet/device/codereader"
	"gocv.io/x/gocv"
)

// Format names, as in codereader.Code.
const (
	QRCode  = "QR_CODE"
	Code128 = "CODE_128"
	EAN13   = "EAN_13"
	EAN8    = "EAN_8"
	UPCA    = "UPC_A"
	UPCE    = "UPC_E"
)

// formatBits maps format names to zxing-cpp's BarcodeFormat bits.
var formatBits = map[string]int{
	QRCode:  fmtQRCode,
	Code128: fmtCode128,
	EAN13:   fmtEAN13,
	EAN8:    fmtEAN8,
	UPCA:    fmtUPCA,
	UPCE:    fmtUPCE,
}

// DefaultFormats are the formats a Decoder reads when Options.Formats is
// empty. UPC-E is left out: its short symbol, with a single check digit,
// is the one most often "found" in text and textures.
var DefaultFormats = []string{QRCode, Code128, EAN13, EAN8, UPCA}

const linearBits = fmtCode128 | fmtEAN13 | fmtEAN8 | fmtUPCA | fmtUPCE

// Options configure a Decoder.
type Options struct {
	// Formats are the symbologies to read, by name; empty means
	// DefaultFormats.
	Formats []string `yaml:"formats"`
	// Thorough adds OpenCV's WeChatQRCode when the fast passes find no
	// code. It reads more damaged, curved and low-contrast codes, but
	// without its CNN models it can take a second or more on a large frame
	// with no code, so it suits still images, not a live camera.
	Thorough bool `yaml:"thorough"`
}

// Symbol is one code found in an image.
type Symbol struct {
	// Format is the symbology, one of the format constants.
	Format string
	// Text is the decoded content, in UTF-8. UPC-A is given as 12 digits.
	Text string
	// Corners are the symbol's corners in the image, clockwise from its
	// top-left, when the decoder reported them; all zero otherwise.
	Corners [4]image.Point
}

// Code returns s as a codereader.Code read by source at at.
func (s Symbol) Code(source string, at time.Time) codereader.Code {
	return codereader.Code{Format: s.Format, Text: s.Text, Source: source, At: at}
}

// Size is the length of the longer diagonal of s's corners in pixels, a
// measure of how large the code appears; 0 when the corners are unknown.
func (s Symbol) Size() float64 {
	d := func(a, b image.Point) float64 {
		dx, dy := float64(a.X-b.X), float64(a.Y-b.Y)
		return dx*dx + dy*dy
	}
	return sqrt(max(d(s.Corners[0], s.Corners[2]), d(s.Corners[1], s.Corners[3])))
}

func sqrt(x float64) float64 {
	if x <= 0 {
		return 0
	}
	z := x
	for range 30 {
		z = (z + x/z) / 2
	}
	return z
}

// Decoder finds codes in images. It is safe for concurrent use, though
// calls are serialised: run one Decoder per camera.
type Decoder struct {
	formats  int
	thorough bool

	mu     sync.Mutex
	wechat *wechat // nil unless thorough
	gray   gocv.Mat
	work   gocv.Mat
	blur   gocv.Mat
	half   gocv.Mat // d.gray at half size, when halfOK
	halfOK bool
	closed bool
}

// NewDecoder returns a Decoder configured by opts.
func NewDecoder(opts Options) (*Decoder, error) {
	names := opts.Formats
	if len(names) == 0 {
		names = DefaultFormats
	}
	d := &Decoder{thorough: opts.Thorough}
	for _, n := range names {
		bit, ok := formatBits[n]
		if !ok {
			return nil, fmt.Errorf("codescan: unknown format %q (known: QR_CODE, CODE_128, EAN_13, EAN_8, UPC_A, UPC_E)", n)
		}
		d.formats |= bit
	}
	if d.thorough && d.formats&fmtQRCode != 0 {
		w, err := newWechat()
		if err != nil {
			return nil, fmt.Errorf("codescan: %w", err)
		}
		d.wechat = w
	}
	d.gray = gocv.NewMat()
	d.work = gocv.NewMat()
	d.blur = gocv.NewMat()
	d.half = gocv.NewMat()
	return d, nil
}

// Close frees the decoder's native resources.
func (d *Decoder) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.wechat != nil {
		d.wechat.close()
	}
	d.gray.Close()
	d.work.Close()
	d.blur.Close()
	d.half.Close()
	return nil
}

// ErrClosed is returned by Decode after Close.
var ErrClosed = errors.New("codescan: decoder closed")

// wechatSide is the largest image side given to WeChatQRCode: on noise it
// takes about 1.5 s at 640x640 on one core, 4 s at 800x800 and 110 s at
// 1830x1830.
const wechatSide = 640

// minSide is the smallest image side worth decoding; smaller images hold
// no readable code and some decoder paths misbehave on them.
const minSide = 8

// Decode returns the codes found in img, an 8-bit gray, BGR or BGRA image,
// at most once per format and text. No code found is not an error.
//
// It runs cheap passes until one finds something: the image as it is, a
// median-filtered copy (sensor noise defeats zxing-cpp's local
// binarizer), a sharpened copy for blurred linear codes, the image turned
// a quarter for upright linear codes, the
// inverse for light-on-dark QR codes (phones in dark mode), and a half-size
// copy for large images. The passes after the first run only if the image
// has runs of edges like a code's (see codeLike): a camera looking at an
// empty counter costs one pass. A Thorough decoder then tries
// WeChatQRCode if nothing was found.
func (d *Decoder) Decode(img gocv.Mat) ([]Symbol, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	if img.Empty() {
		return nil, errors.New("codescan: empty image")
	}
	switch img.Type() {
	case gocv.MatTypeCV8UC1:
		img.CopyTo(&d.gray)
	case gocv.MatTypeCV8UC3:
		gocv.CvtColor(img, &d.gray, gocv.ColorBGRToGray)
	case gocv.MatTypeCV8UC4:
		gocv.CvtColor(img, &d.gray, gocv.ColorBGRAToGray)
	default:
		return nil, fmt.Errorf("codescan: image type %v is not 8-bit gray, BGR or BGRA", img.Type())
	}
	w, h := d.gray.Cols(), d.gray.Rows()
	if w < minSide || h < minSide {
		return nil, nil
	}
	d.halfOK = false
	var found []Symbol
	add := func(rs []raw, mapPt func(image.Point) image.Point) {
		for _, r := range rs {
			s, ok := d.accept(r)
			if !ok {
				continue
			}
			for k := range s.Corners {
				s.Corners[k] = mapPt(s.Corners[k])
			}
			if !slices.ContainsFunc(found, func(f Symbol) bool { return f.Format == s.Format && f.Text == s.Text }) {
				found = append(found, s)
			}
		}
	}
	same := func(p image.Point) image.Point { return p }
	hints := zxingHints{formats: d.formats, tryHarder: true, minLines: 2}

	passes := []func() error{
		func() error {
			rs, err := zxingSafe(&d.gray, hints)
			add(rs, same)
			return err
		},
		func() error {
			gocv.MedianBlur(d.gray, &d.work, 3)
			rs, err := zxingSafe(&d.work, hints)
			add(rs, same)
			return err
		},
		func() error {
			// Blurred bars read better sharpened; small images are
			// enlarged first so the sharpening does not eat thin bars.
			// Sharpening also makes misreads more likely, hence a third
			// agreeing scan line.
			if d.formats&linearBits == 0 {
				return nil
			}
			scale, src := 1, &d.gray
			if max(w, h) <= 1024 {
				scale, src = 2, &d.work
				gocv.Resize(d.gray, &d.work, image.Pt(2*w, 2*h), 0, 0, gocv.InterpolationCubic)
			}
			gocv.GaussianBlur(*src, &d.blur, image.Pt(0, 0), 4, 4, gocv.BorderReflect101)
			gocv.AddWeighted(*src, 2, d.blur, -1, 0, &d.work)
			lin := hints
			lin.formats &= linearBits
			lin.minLines = 3
			rs, err := zxingSafe(&d.work, lin)
			add(rs, func(p image.Point) image.Point { return p.Div(scale) })
			return err
		},
		func() error {
			if d.formats&linearBits == 0 {
				return nil
			}
			gocv.Rotate(d.gray, &d.work, gocv.Rotate90Clockwise)
			lin := hints
			lin.formats &= linearBits
			rs, err := zxingSafe(&d.work, lin)
			// Turned clockwise, (x, y) went to (h-1-y, x).
			add(rs, func(p image.Point) image.Point { return image.Pt(p.Y, h-1-p.X) })
			return err
		},
		func() error {
			if d.formats&fmtQRCode == 0 {
				return nil
			}
			gocv.BitwiseNot(d.gray, &d.work)
			qr := hints
			qr.formats = fmtQRCode
			rs, err := zxingSafe(&d.work, qr)
			add(rs, same)
			return err
		},
		func() error {
			if min(w, h) < 500 {
				return nil
			}
			if !d.halfOK {
				gocv.Resize(d.gray, &d.half, image.Pt(w/2, h/2), 0, 0, gocv.InterpolationArea)
				d.halfOK = true
			}
			rs, err := zxingSafe(&d.half, hints)
			add(rs, func(p image.Point) image.Point { return p.Mul(2) })
			return err
		},
	}
	for i, pass := range passes {
		if err := pass(); err != nil {
			return nil, fmt.Errorf("codescan: %w", err)
		}
		if len(found) > 0 {
			break
		}
		// The first pass reads most codes and is about a fifth of the
		// cost of all six; the gate costs a tenth of the first, and on a
		// frame with nothing in it spares the other five.
		if i == 0 && !d.codeLike(w, h) {
			break
		}
	}
	if d.wechat != nil && len(found) == 0 {
		// Its time grows faster than the pixel count, to minutes on a
		// large noisy image, so it sees at most wechatSide pixels a side.
		src := &d.gray
		if m := max(w, h); m > wechatSide {
			gocv.Resize(d.gray, &d.work, image.Pt(w*wechatSide/m, h*wechatSide/m), 0, 0, gocv.InterpolationArea)
			src = &d.work
		}
		rs, err := d.wechat.decode(src)
		if err != nil {
			return nil, fmt.Errorf("codescan: %w", err)
		}
		// Without its detector model WeChatQRCode reports the whole image
		// as the code's outline: keep no corners rather than wrong ones.
		for i := range rs {
			rs[i].corners = [4]image.Point{}
		}
		add(rs, same)
	}
	return found, nil
}

// accept turns a decoder's result into a Symbol, or rejects it.
func (d *Decoder) accept(r raw) (Symbol, bool) {
	if r.format&d.formats == 0 || r.text == "" {
		return Symbol{}, false
	}
	s := Symbol{Text: r.text, Corners: r.corners}
	switch r.format {
	case fmtQRCode:
		s.Format = QRCode
	case fmtCode128:
		s.Format = Code128
	case fmtEAN13:
		s.Format = EAN13
	case fmtEAN8:
		s.Format = EAN8
	case fmtUPCA:
		s.Format = UPCA
	case fmtUPCE:
		s.Format = UPCE
	default:
		return Symbol{}, false
	}
	if !ValidText(s.Format, s.Text) {
		return Symbol{}, false
	}
	if !utf8.ValidString(s.Text) {
		// WeChatQRCode hands over byte-mode data as it is. Without an ECI
		// the default character set of QR byte mode is ISO-8859-1
		// (ISO/IEC 18004:2006 section 6.4.5), which maps byte for byte to
		// the first 256 code points.
		s.Text = latin1(s.Text)
	}
	return s, true
}

func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}
