// Package cvx wraps the few OpenCV 4.6 calls that gocv v0.31.0 lacks and the
// face package needs: the thread count of OpenCV's parallel loops, and the
// YuNet face detector (cv::FaceDetectorYN, opencv2/objdetect/face.hpp).
package cvx

/*
#cgo !windows pkg-config: opencv4
#cgo CXXFLAGS: --std=c++11
#include <stdlib.h>
#include "cvx.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"

	"gocv.io/x/gocv"
)

// SetNumThreads sets the number of threads of OpenCV's parallel loops for
// the whole process (cv::setNumThreads); 1 runs them on the caller's thread.
func SetNumThreads(n int) { C.cvx_set_num_threads(C.int(n)) }

// NumThreads returns the number of threads OpenCV's parallel loops use.
func NumThreads() int { return int(C.cvx_get_num_threads()) }

// YuNetFace is one detection of YuNet: a box, five landmarks (right eye,
// left eye, nose tip, right and left mouth corners, as the subject sees
// them; in the image the first eye is the one on the left) and a score.
type YuNetFace struct {
	Box       image.Rectangle
	Landmarks [5][2]float32
	Score     float32
}

// YuNet is a loaded YuNet face detector. It is not safe for concurrent use.
type YuNet struct {
	p C.cvx_yunet
}

const errLen = 512

// NewYuNet loads the YuNet ONNX model at path (from OpenCV's model zoo,
// face_detection_yunet) with the given score threshold, non-maximum
// suppression threshold and number of candidates kept before it.
func NewYuNet(path string, score, nms float32, topK int) (*YuNet, error) {
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var buf [errLen]C.char
	p := C.cvx_yunet_new(cp, C.float(score), C.float(nms), C.int(topK), &buf[0], errLen)
	if p == nil {
		return nil, fmt.Errorf("cvx: yunet %s: %s", path, C.GoString(&buf[0]))
	}
	return &YuNet{p: p}, nil
}

// maxFaces bounds the detections copied out of one frame.
const maxFaces = 32

// Detect runs YuNet on a BGR frame.
func (y *YuNet) Detect(bgr gocv.Mat) ([]YuNetFace, error) {
	if y.p == nil {
		return nil, errors.New("cvx: yunet used after Close")
	}
	if bgr.Empty() || bgr.Type() != gocv.MatTypeCV8UC3 {
		return nil, errors.New("cvx: yunet wants a non-empty 8-bit BGR frame")
	}
	var out [maxFaces * 15]C.float
	var buf [errLen]C.char
	n := C.cvx_yunet_detect(y.p, unsafe.Pointer(bgr.Ptr()), &out[0], maxFaces, &buf[0], errLen)
	if n < 0 {
		return nil, fmt.Errorf("cvx: yunet: %s", C.GoString(&buf[0]))
	}
	faces := make([]YuNetFace, int(n))
	for i := range faces {
		r := out[i*15 : i*15+15]
		f := &faces[i]
		f.Box = image.Rect(int(r[0]), int(r[1]), int(r[0]+r[2]), int(r[1]+r[3]))
		for k := 0; k < 5; k++ {
			f.Landmarks[k] = [2]float32{float32(r[4+2*k]), float32(r[5+2*k])}
		}
		f.Score = float32(r[14])
	}
	return faces, nil
}

// Close frees the detector.
func (y *YuNet) Close() error {
	if y.p != nil {
		C.cvx_yunet_free(y.p)
		y.p = nil
	}
	return nil
}
