// Package facescene makes the camera frames of a citizen at the counter from
// the ORL face set (../shared/testdata/faces/orl), for the simulated face
// camera of the demo and of the end-to-end tests: each 92×112 grey ORL face,
// scaled 2.5 times, on a 640×480 textured backdrop, in the order in which the
// subject turns the head (ORL's images 1 to 10, after three still frames),
// plus the card photo the simulated card reader hands out.
package facescene

import (
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"

	"gocv.io/x/gocv"
)

// Size of a frame, and the scale of an ORL face in it.
const (
	Width, Height = 640, 480
	Scale         = 2.5
)

// Order is the ORL image of each frame: the subject first looks still at
// the camera, then turns.
var Order = []int{1, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}

// Backdrop returns a textured counter background, so that the face is not
// on a flat field that no camera would see.
func Backdrop() gocv.Mat {
	m := gocv.NewMatWithSize(Height, Width, gocv.MatTypeCV8UC3)
	p, _ := m.DataPtrUint8()
	for y := 0; y < Height; y++ {
		for x := 0; x < Width; x++ {
			v := 120 + 30*math.Sin(float64(x)/37) + 20*math.Cos(float64(y)/23) + float64((x*7+y*13)%11)
			i := 3 * (y*Width + x)
			p[i], p[i+1], p[i+2] = uint8(v), uint8(v+8), uint8(v+15)
		}
	}
	return m
}

// Place puts a grey face at the centre of a fresh backdrop, moved by d.
func Place(face gocv.Mat, d image.Point) gocv.Mat {
	bg := Backdrop()
	big := gocv.NewMat()
	defer big.Close()
	gocv.Resize(face, &big, image.Pt(int(float64(face.Cols())*Scale), int(float64(face.Rows())*Scale)), 0, 0, gocv.InterpolationLinear)
	bgr := gocv.NewMat()
	defer bgr.Close()
	gocv.CvtColor(big, &bgr, gocv.ColorGrayToBGR)
	x, y := (Width-bgr.Cols())/2+d.X, (Height-bgr.Rows())/2+d.Y
	dst := bg.Region(image.Rect(x, y, x+bgr.Cols(), y+bgr.Rows()))
	bgr.CopyTo(&dst)
	dst.Close()
	return bg
}

// ORL reads image i of subject s of the ORL set in orlDir, in grey.
func ORL(orlDir string, s, i int) (gocv.Mat, error) {
	p := filepath.Join(orlDir, fmt.Sprintf("s%d", s), fmt.Sprintf("%d.pgm", i))
	m := gocv.IMRead(p, gocv.IMReadGrayScale)
	if m.Empty() {
		m.Close()
		return m, fmt.Errorf("facescene: cannot read %s (the ORL face set)", p)
	}
	return m, nil
}

// Write writes the frames of subject s looking at the camera into out
// (frame-00.png, ...), and returns their paths. The subject drifts a few
// pixels, as a seated person does.
func Write(orlDir string, s int, out string) ([]string, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for k, i := range Order {
		m, err := ORL(orlDir, s, i)
		if err != nil {
			return nil, err
		}
		fr := Place(m, image.Pt(2*min(k, 2), min(k, 2)))
		m.Close()
		p := filepath.Join(out, fmt.Sprintf("frame-%02d.png", k))
		ok := gocv.IMWrite(p, fr)
		fr.Close()
		if !ok {
			return nil, fmt.Errorf("facescene: cannot write %s", p)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// WritePhoto writes image i of subject s as the PNG card photo path.
func WritePhoto(orlDir string, s, i int, path string) error {
	m, err := ORL(orlDir, s, i)
	if err != nil {
		return err
	}
	defer m.Close()
	if !gocv.IMWrite(path, m) {
		return fmt.Errorf("facescene: cannot write %s", path)
	}
	return nil
}
