package face

import (
	"image"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/eid/face/internal/cvx"
)

// YuNet detects faces with the YuNet network (cv::FaceDetectorYN, OpenCV
// 4.6 objdetect), which also gives the eye centres. It is not safe for
// concurrent use.
type YuNet struct {
	net *cvx.YuNet
	bgr gocv.Mat
}

// NewYuNet loads the YuNet ONNX model at path.
func NewYuNet(path string) (*YuNet, error) {
	n, err := cvx.NewYuNet(path, 0.8, 0.3, 50)
	if err != nil {
		return nil, err
	}
	return &YuNet{net: n, bgr: gocv.NewMat()}, nil
}

// Detect finds faces in frame.
func (y *YuNet) Detect(frame gocv.Mat) ([]Face, error) {
	if frame.Empty() {
		return nil, errFrame
	}
	src := frame
	switch frame.Type() {
	case gocv.MatTypeCV8UC3:
	case gocv.MatTypeCV8UC1:
		gocv.CvtColor(frame, &y.bgr, gocv.ColorGrayToBGR)
		src = y.bgr
	case gocv.MatTypeCV8UC4:
		gocv.CvtColor(frame, &y.bgr, gocv.ColorBGRAToBGR)
		src = y.bgr
	default:
		return nil, errFrame
	}
	found, err := y.net.Detect(src)
	if err != nil {
		return nil, err
	}
	faces := make([]Face, len(found))
	for i, f := range found {
		faces[i] = Face{
			Box: f.Box,
			// YuNet's first landmark is the subject's right eye, on the
			// left of the image.
			Eyes:      [2]image.Point{image.Pt(int(f.Landmarks[0][0]), int(f.Landmarks[0][1])), image.Pt(int(f.Landmarks[1][0]), int(f.Landmarks[1][1]))},
			EyesFound: true,
			Score:     float64(f.Score),
		}
	}
	sortFaces(faces)
	return faces, nil
}

// Close frees the network.
func (y *YuNet) Close() error {
	wipeMat(&y.bgr)
	y.bgr.Close()
	return y.net.Close()
}
