package codescan

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

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
	const w, h = 1280, 720
	rng := rand.New(rand.NewPCG(seed, 42))
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
	if text != "" {
		mods := qrModules(tb, text)
		const mod, margin = 8, 5 // px per module; white screen around the code, in modules
		n := len(mods) + 2*margin
		side := n * mod
		code := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(235, 235, 235, 0), side, side, gocv.MatTypeCV8UC3)
		for y, row := range mods {
			for x, dark := range row {
				if dark {
					r := image.Rect((x+margin)*mod, (y+margin)*mod, (x+margin+1)*mod, (y+margin+1)*mod)
					gocv.Rectangle(&code, r, color.RGBA{25, 25, 25, 255}, -1)
				}
			}
		}
		src := gocv.NewPointVectorFromPoints([]image.Point{{0, 0}, {side, 0}, {side, side}, {0, side}})
		// A phone held a little tilted and turned, left of centre.
		dst := gocv.NewPointVectorFromPoints([]image.Point{{430, 190}, {740, 215}, {720, 520}, {445, 505}})
		m := gocv.GetPerspectiveTransform(src, dst)
		warped, mask := gocv.NewMat(), gocv.NewMat()
		gocv.WarpPerspective(code, &warped, m, image.Pt(w, h))
		ones := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), side, side, gocv.MatTypeCV8UC1)
		gocv.WarpPerspective(ones, &mask, m, image.Pt(w, h))
		warped.CopyToWithMask(&frame, mask)
		src.Close()
		dst.Close()
		for _, c := range []*gocv.Mat{&code, &m, &warped, &mask, &ones} {
			c.Close()
		}
	}
	blurred := gocv.NewMat()
	gocv.GaussianBlur(frame, &blurred, image.Pt(5, 5), 1.2, 1.2, gocv.BorderReflect101)
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
