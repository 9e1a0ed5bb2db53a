package face

import (
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/internal/facescene"
)

// sceneW and sceneH are the camera frame size of the tests and benchmarks.
const sceneW, sceneH = facescene.Width, facescene.Height

// backdrop returns a 640×480 BGR counter scene, the one the demo's and
// the end-to-end tests' frames use.
func backdrop() gocv.Mat { return facescene.Backdrop() }

// place draws the grey face image, scaled by s, centred at c on a fresh
// backdrop, and returns the BGR frame.
func place(face gocv.Mat, s float64, c image.Point) gocv.Mat {
	return warpOnto(face, affine(face, s, 0, c))
}

// affine returns the 3×3 matrix that scales the image by s, rotates it by
// rot radians about its centre and puts its centre at c.
func affine(face gocv.Mat, s, rot float64, c image.Point) [9]float64 {
	cx, cy := float64(face.Cols())/2, float64(face.Rows())/2
	a, b := s*math.Cos(rot), s*math.Sin(rot)
	return [9]float64{a, -b, float64(c.X) - (a*cx - b*cy), b, a, float64(c.Y) - (b*cx + a*cy), 0, 0, 1}
}

// tilt returns the homography of a flat picture of width w centred at c
// turned by yaw radians about its vertical axis, seen by a pinhole camera
// with focal length f pixels from distance dist (in the same units as w).
func tilt(h [9]float64, yaw, f float64, c image.Point) [9]float64 {
	// Points of the picture plane around its centre (X, Y, 0) go to
	// (X cos yaw, Y, X sin yaw) and project with depth dist = f.
	co, si := math.Cos(yaw), math.Sin(yaw)
	cx, cy := float64(c.X), float64(c.Y)
	// In image coordinates relative to c: x' = f*X*co/(f + X*si), y' = f*Y/(f + X*si).
	t := [9]float64{
		co, 0, 0,
		0, 1, 0,
		si / f, 0, 1,
	}
	// Conjugate by the translation to c: T(c) * t * T(-c).
	tc := [9]float64{1, 0, cx, 0, 1, cy, 0, 0, 1}
	tm := [9]float64{1, 0, -cx, 0, 1, -cy, 0, 0, 1}
	return mul3(mul3(tc, mul3(t, tm)), h)
}

func mul3(a, b [9]float64) [9]float64 {
	var r [9]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			for k := 0; k < 3; k++ {
				r[3*i+j] += a[3*i+k] * b[3*k+j]
			}
		}
	}
	return r
}

// warpOnto warps the grey image src by the homography h onto a fresh
// backdrop.
func warpOnto(src gocv.Mat, h [9]float64) gocv.Mat {
	bg := backdrop()
	hm := gocv.NewMatWithSize(3, 3, gocv.MatTypeCV64F)
	defer hm.Close()
	for i, v := range h {
		hm.SetDoubleAt(i/3, i%3, v)
	}
	bgr := gocv.NewMat()
	defer bgr.Close()
	gocv.CvtColor(src, &bgr, gocv.ColorGrayToBGR)
	warped := gocv.NewMat()
	defer warped.Close()
	gocv.WarpPerspectiveWithParams(bgr, &warped, hm, image.Pt(sceneW, sceneH), gocv.InterpolationLinear, gocv.BorderConstant, color.RGBA{})
	mask := gocv.NewMatWithSize(src.Rows(), src.Cols(), gocv.MatTypeCV8UC1)
	defer mask.Close()
	mask.SetTo(gocv.NewScalar(255, 0, 0, 0))
	wm := gocv.NewMat()
	defer wm.Close()
	gocv.WarpPerspectiveWithParams(mask, &wm, hm, image.Pt(sceneW, sceneH), gocv.InterpolationNearestNeighbor, gocv.BorderConstant, color.RGBA{})
	warped.CopyToWithMask(&bg, wm)
	return bg
}

// phone returns the grey face pasted into a phone-like frame: a dark bezel
// around a bright screen, the photo letterboxed on it.
func phone(face gocv.Mat) gocv.Mat {
	const bezel, screenPad = 14, 30
	w, h := face.Cols()+2*bezel, face.Rows()+2*bezel+2*screenPad
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC1)
	m.SetTo(gocv.NewScalar(20, 0, 0, 0))
	screen := m.Region(image.Rect(bezel, bezel, w-bezel, h-bezel))
	screen.SetTo(gocv.NewScalar(235, 0, 0, 0))
	screen.Close()
	dst := m.Region(image.Rect(bezel, bezel+screenPad, bezel+face.Cols(), bezel+screenPad+face.Rows()))
	face.CopyTo(&dst)
	dst.Close()
	return m
}
