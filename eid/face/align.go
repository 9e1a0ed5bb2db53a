package face

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"
)

// Aligned crop geometry: the classical matcher describes faces in a
// cropW×cropH grey image with the eye centres at fixed points, so that each
// grid cell covers the same part of every face.
const (
	cropW, cropH = 80, 88
	eyeY         = 30.0
	eyeLX, eyeRX = 22.0, 58.0
)

// Where the eyes fall in a box of the default Haar cascade, as fractions of
// the box, measured as the mean over the 228 ORL faces where both eyes were
// found (0.302, 0.687, 0.389) and rounded symmetric. Used when the eyes are
// not found.
const (
	boxEyeLX, boxEyeRX, boxEyeY = 0.315, 0.685, 0.39
)

// eyePoints returns the eye centres of f, estimated from the box when the
// eyes were not found.
func eyePoints(f Face) (l, r [2]float64) {
	if f.EyesFound {
		return [2]float64{float64(f.Eyes[0].X), float64(f.Eyes[0].Y)}, [2]float64{float64(f.Eyes[1].X), float64(f.Eyes[1].Y)}
	}
	b := f.Box
	w, h := float64(b.Dx()), float64(b.Dy())
	x0, y0 := float64(b.Min.X), float64(b.Min.Y)
	return [2]float64{x0 + boxEyeLX*w, y0 + boxEyeY*h}, [2]float64{x0 + boxEyeRX*w, y0 + boxEyeY*h}
}

// similarity returns the 2×3 matrix of the similarity transform (rotation,
// uniform scale, translation) that maps p1 to q1 and p2 to q2.
func similarity(p1, p2, q1, q2 [2]float64) [6]float64 {
	dpx, dpy := p2[0]-p1[0], p2[1]-p1[1]
	dqx, dqy := q2[0]-q1[0], q2[1]-q1[1]
	n := dpx*dpx + dpy*dpy
	if n == 0 {
		n = 1
	}
	// (a + ib) = dq / dp as complex numbers.
	a := (dqx*dpx + dqy*dpy) / n
	b := (dqy*dpx - dqx*dpy) / n
	tx := q1[0] - (a*p1[0] - b*p1[1])
	ty := q1[1] - (b*p1[0] + a*p1[1])
	return [6]float64{a, -b, tx, b, a, ty}
}

// warpFace warps the face f of img into a w×h image whose eyes land on ql
// and qr. The caller closes the result.
func warpFace(img gocv.Mat, f Face, w, h int, ql, qr [2]float64) (gocv.Mat, error) {
	pl, pr := eyePoints(f)
	m := similarity(pl, pr, ql, qr)
	for _, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return gocv.Mat{}, fmt.Errorf("face: align: degenerate eye positions")
		}
	}
	mat := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer mat.Close()
	for i, v := range m {
		mat.SetDoubleAt(i/3, i%3, v)
	}
	dst := gocv.NewMat()
	gocv.WarpAffineWithParams(img, &dst, mat, image.Pt(w, h), gocv.InterpolationLinear, gocv.BorderReplicate, color.RGBA{})
	return dst, nil
}

// alignTo warps the face f of the grey image g into a w×h crop whose eyes
// land on ql and qr, and returns its pixels, row by row.
func alignTo(g gocv.Mat, f Face, w, h int, ql, qr [2]float64) ([]byte, error) {
	if g.Type() != gocv.MatTypeCV8UC1 {
		return nil, fmt.Errorf("face: align: want a grey image, got type %v", g.Type())
	}
	dst, err := warpFace(g, f, w, h, ql, qr)
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	pix := dst.ToBytes()
	wipeMat(&dst)
	return pix, nil
}

// align returns the canonical crop of face f in the grey image g.
func align(g gocv.Mat, f Face) ([]byte, error) {
	return alignTo(g, f, cropW, cropH, [2]float64{eyeLX, eyeY}, [2]float64{eyeRX, eyeY})
}

// wipeMat overwrites the pixels of m with zeros, so that a face does not
// linger in freed C memory.
func wipeMat(m *gocv.Mat) {
	if m.Empty() {
		return
	}
	m.SetTo(gocv.NewScalar(0, 0, 0, 0))
}
