package codescan

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"
	"github.com/yeqown/go-qrcode/v2"
	"gocv.io/x/gocv"
)

// moduleWriter keeps the module matrix go-qrcode computes.
type moduleWriter struct{ m qrcode.Matrix }

func (w *moduleWriter) Write(m qrcode.Matrix) error { w.m = m; return nil }
func (w *moduleWriter) Close() error                { return nil }

// qrModules returns the QR code of text as rows of dark (true) modules.
func qrModules(tb testing.TB, text string) [][]bool {
	tb.Helper()
	q, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		tb.Fatal(err)
	}
	var w moduleWriter
	if err := q.Save(&w); err != nil {
		tb.Fatal(err)
	}
	rows := make([][]bool, w.m.Height())
	for y := range rows {
		rows[y] = make([]bool, w.m.Width())
	}
	w.m.Iterate(qrcode.IterDirection_ROW, func(x, y int, v qrcode.QRValue) { rows[y][x] = v.IsSet() })
	return rows
}

// cameraFrame makes a 1280x720 BGR frame like a counter camera's: a
// cluttered, unevenly lit background and, if text is not empty, a phone
// screen showing text's QR code about 250 px wide, seen at an angle,
// slightly out of focus and with sensor noise.
func cameraFrame(tb testing.TB, text string, seed uint64) gocv.Mat {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 42))
	frame := counter(tb, rng)
	if text != "" {
		mods := qrModules(tb, text)
		const mod, margin = 8, 5 // px per module; white screen around the code, in modules
		// A phone held a little tilted and turned, left of centre.
		paste(&frame, mods, mod, margin, margin, false, []image.Point{{430, 190}, {740, 215}, {720, 520}, {445, 505}})
	}
	return throughLens(tb, frame, image.Pt(5, 5), 1.2, rng)
}

// counter returns a 1280x720 BGR image of a counter: a cluttered,
// unevenly lit background.
func counter(tb testing.TB, rng *rand.Rand) gocv.Mat {
	tb.Helper()
	const w, h = 1280, 720
	px := make([]byte, w*h*3)
	for y := range h {
		for x := range w {
			v := 70 + 90*x/w + 40*y/h
			for c := range 3 {
				px[(y*w+x)*3+c] = byte(v + 10*c)
			}
		}
	}
	// Clutter: boxes and labels on the counter.
	for range 25 {
		x0, y0 := rng.IntN(w-60), rng.IntN(h-40)
		bw, bh := 20+rng.IntN(200), 10+rng.IntN(120)
		col := [3]byte{byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}
		for y := y0; y < min(h, y0+bh); y++ {
			for x := x0; x < min(w, x0+bw); x++ {
				copy(px[(y*w+x)*3:], col[:])
			}
		}
	}
	frame, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, px)
	if err != nil {
		tb.Fatal(err)
	}
	return frame
}

// paste draws mods (rows of dark modules) at mod pixels a module, with
// margins of light modules on the sides (mx) and above and below (my), as
// dark on light or, if inverted, light on dark, and warps the result onto
// frame at the corners dst (clockwise from top-left).
func paste(frame *gocv.Mat, mods [][]bool, mod, mx, my int, inverted bool, dst []image.Point) {
	light, dark := color.RGBA{235, 235, 235, 255}, color.RGBA{25, 25, 25, 255}
	if inverted {
		light, dark = dark, light
	}
	cw, ch := (len(mods[0])+2*mx)*mod, (len(mods)+2*my)*mod
	code := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(float64(light.B), float64(light.G), float64(light.R), 0), ch, cw, gocv.MatTypeCV8UC3)
	for y, row := range mods {
		for x, d := range row {
			if d {
				r := image.Rect((x+mx)*mod, (y+my)*mod, (x+mx+1)*mod, (y+my+1)*mod)
				gocv.Rectangle(&code, r, dark, -1)
			}
		}
	}
	src := gocv.NewPointVectorFromPoints([]image.Point{{0, 0}, {cw, 0}, {cw, ch}, {0, ch}})
	dv := gocv.NewPointVectorFromPoints(dst)
	m := gocv.GetPerspectiveTransform(src, dv)
	warped, mask := gocv.NewMat(), gocv.NewMat()
	size := image.Pt(frame.Cols(), frame.Rows())
	gocv.WarpPerspective(code, &warped, m, size)
	ones := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), ch, cw, gocv.MatTypeCV8UC1)
	gocv.WarpPerspective(ones, &mask, m, size)
	warped.CopyToWithMask(frame, mask)
	src.Close()
	dv.Close()
	for _, c := range []*gocv.Mat{&code, &m, &warped, &mask, &ones} {
		c.Close()
	}
}

// throughLens blurs frame as a lens slightly out of focus (a Gaussian of
// sigma pixels, over ksize or, if ksize is zero, as wide as sigma asks)
// and adds sensor noise, closing frame.
func throughLens(tb testing.TB, frame gocv.Mat, ksize image.Point, sigma float64, rng *rand.Rand) gocv.Mat {
	tb.Helper()
	blurred := gocv.NewMat()
	gocv.GaussianBlur(frame, &blurred, ksize, sigma, sigma, gocv.BorderReflect101)
	frame.Close()
	b, err := blurred.DataPtrUint8()
	if err != nil {
		tb.Fatal(err)
	}
	for i := range b {
		v := int(b[i]) + int(rng.NormFloat64()*6)
		b[i] = byte(max(0, min(255, v)))
	}
	return blurred
}

var black = color.RGBA{0, 0, 0, 255}

// scene is a code held up to a counter camera.
type scene struct {
	format string // QRCode, EAN13 or Code128
	text   string
	module int     // pixels a module, before the perspective
	angle  float64 // turn in the image plane, degrees clockwise
	sigma  float64 // blur, in pixels
	dark   bool    // light on dark, as a phone in dark mode
}

func (s scene) String() string {
	return fmt.Sprintf("%s %dpx %.0f° blur %.1f dark %v", s.format, s.module, s.angle, s.sigma, s.dark)
}

// sceneFrame is like cameraFrame, with the code of s near the centre,
// turned by s.angle and seen a little from the side.
func sceneFrame(tb testing.TB, s scene, seed uint64) gocv.Mat {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 42))
	frame := counter(tb, rng)
	var mods [][]bool
	mx, my := 5, 5
	switch s.format {
	case QRCode:
		mods = qrModules(tb, s.text)
	case EAN13, Code128:
		w, f := gozxing.Writer(oned.NewEAN13Writer()), gozxing.BarcodeFormat_EAN_13
		if s.format == Code128 {
			w, f = oned.NewCode128Writer(), gozxing.BarcodeFormat_CODE_128
		}
		m, err := w.Encode(s.text, f, 0, 1, map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_MARGIN: 0})
		if err != nil {
			tb.Fatal(err)
		}
		row := make([]bool, m.GetWidth())
		for x := range row {
			row[x] = m.Get(x, 0)
		}
		// Bars a third as tall as the code is wide, with a quiet zone of
		// 12 modules (EAN asks for 11 and 7, Code 128 for 10).
		mods = make([][]bool, len(row)/3)
		for i := range mods {
			mods[i] = row
		}
		mx, my = 12, 4
	default:
		tb.Fatalf("scene format %q", s.format)
	}
	cw, ch := float64((len(mods[0])+2*mx)*s.module), float64((len(mods)+2*my)*s.module)
	cx, cy := 600+float64(rng.IntN(100)-50), 360+float64(rng.IntN(60)-30)
	sin, cos := math.Sincos(s.angle * math.Pi / 180)
	corner := func(u, v, k float64) image.Point {
		u, v = u*k, v*k
		return image.Pt(int(cx+u*cos-v*sin), int(cy+u*sin+v*cos))
	}
	// The right side a little further away than the left.
	dst := []image.Point{corner(-cw/2, -ch/2, 1), corner(cw/2, -ch/2, 0.95), corner(cw/2, ch/2, 0.97), corner(-cw/2, ch/2, 1.02)}
	paste(&frame, mods, s.module, mx, my, s.dark, dst)
	return throughLens(tb, frame, image.Point{}, s.sigma, rng)
}
