package counter

import (
	"image"
	"math"

	"gocv.io/x/gocv"
)

// The camera frames of the real-face tests: an ORL face (92×112, grey)
// scaled 2.5 times onto a 640×480 textured counter backdrop, as eid/face's
// own tests build them.
const sceneW, sceneH, faceScale = 640, 480, 2.5

func backdrop() gocv.Mat {
	m := gocv.NewMatWithSize(sceneH, sceneW, gocv.MatTypeCV8UC3)
	p, _ := m.DataPtrUint8()
	for y := 0; y < sceneH; y++ {
		for x := 0; x < sceneW; x++ {
			v := 120 + 30*math.Sin(float64(x)/37) + 20*math.Cos(float64(y)/23) + float64((x*7+y*13)%11)
			i := 3 * (y*sceneW + x)
			p[i], p[i+1], p[i+2] = uint8(v), uint8(v+8), uint8(v+15)
		}
	}
	return m
}

// place puts the grey face at the centre of a fresh backdrop, moved by d.
func place(face gocv.Mat, d image.Point) gocv.Mat {
	bg := backdrop()
	big := gocv.NewMat()
	defer big.Close()
	gocv.Resize(face, &big, image.Pt(int(float64(face.Cols())*faceScale), int(float64(face.Rows())*faceScale)), 0, 0, gocv.InterpolationLinear)
	bgr := gocv.NewMat()
	defer bgr.Close()
	gocv.CvtColor(big, &bgr, gocv.ColorGrayToBGR)
	x, y := (sceneW-bgr.Cols())/2+d.X, (sceneH-bgr.Rows())/2+d.Y
	dst := bg.Region(image.Rect(x, y, x+bgr.Cols(), y+bgr.Rows()))
	bgr.CopyTo(&dst)
	dst.Close()
	return bg
}
