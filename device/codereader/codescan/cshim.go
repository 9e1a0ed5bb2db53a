package codescan

// #cgo CXXFLAGS: -std=c++17 -O2 -I/usr/include/opencv4
// #cgo LDFLAGS: -lopencv_wechat_qrcode -lopencv_imgproc -lopencv_core -lZXing
// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"cmp"
	"errors"
	"fmt"
	"image"
	"unsafe"

	"gocv.io/x/gocv"
)

// zxing-cpp's BarcodeFormat bits, as in shim.h.
const (
	fmtCode128 = C.CS_CODE128
	fmtEAN8    = C.CS_EAN8
	fmtEAN13   = C.CS_EAN13
	fmtQRCode  = C.CS_QRCODE
	fmtUPCA    = C.CS_UPCA
	fmtUPCE    = C.CS_UPCE
)

// raw is one symbol as the C++ side found it.
type raw struct {
	format  int
	text    string
	corners [4]image.Point
}

// matPtr is the cv::Mat* behind m, for the shim.
func matPtr(m *gocv.Mat) unsafe.Pointer { return unsafe.Pointer(m.Ptr()) }

// collect copies r into Go memory and frees it.
func collect(r C.cs_result) ([]raw, error) {
	defer C.cs_result_free(r)
	if r.err != nil {
		return nil, errors.New(C.GoString(r.err))
	}
	if r.n == 0 {
		return nil, nil
	}
	codes := unsafe.Slice(r.codes, int(r.n))
	out := make([]raw, 0, len(codes))
	for _, c := range codes {
		s := raw{format: int(c.format), text: C.GoStringN(c.text, c.len)}
		for k := range 4 {
			s.corners[k] = image.Pt(int(c.x[k]+0.5), int(c.y[k]+0.5))
		}
		out = append(out, s)
	}
	return out, nil
}

// wechat is an OpenCV WeChatQRCode detector without its CNN models. It is
// not safe for concurrent use.
type wechat struct{ p C.cs_wechat }

func newWechat() (*wechat, error) {
	var cerr *C.char
	p := C.cs_wechat_new(&cerr)
	if p == nil {
		defer C.free(unsafe.Pointer(cerr))
		return nil, fmt.Errorf("wechat_qrcode: %s", C.GoString(cerr))
	}
	return &wechat{p: p}, nil
}

func (w *wechat) close() {
	if w.p != nil {
		C.cs_wechat_free(w.p)
		w.p = nil
	}
}

func (w *wechat) decode(img *gocv.Mat) ([]raw, error) {
	r, err := collect(C.cs_wechat_decode(w.p, matPtr(img)))
	if err != nil {
		return nil, fmt.Errorf("wechat_qrcode: %w", err)
	}
	return r, nil
}

// zxingHints are the zxing-cpp DecodeHints the shim passes on.
type zxingHints struct {
	formats      int
	tryHarder    bool
	tryRotate    bool
	tryDownscale bool
	minLines     int
	// binarizer is zxing-cpp's Binarizer: 0 LocalAverage, 1
	// GlobalHistogram, 2 FixedThreshold.
	binarizer int
	// maxSymbols caps the symbols read; 0 means 255.
	maxSymbols int
}

func zxingRead(img *gocv.Mat, h zxingHints) ([]raw, error) {
	r, err := collect(C.cs_zxing_read(matPtr(img), C.int(h.formats), cbool(h.tryHarder), cbool(h.tryRotate), cbool(h.tryDownscale), C.int(h.minLines), C.int(h.binarizer), C.int(cmp.Or(h.maxSymbols, 255))))
	if err != nil {
		return nil, fmt.Errorf("zxing-cpp: %w", err)
	}
	return r, nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// SetNumThreads sets how many threads OpenCV may use (cv::setNumThreads);
// 1 keeps decoding on the calling goroutine's thread, which is what a
// device with a core to spare per camera wants. gocv v0.31 has no binding.
func SetNumThreads(n int) { C.cs_set_num_threads(C.int(n)) }

// edgeChain is cs_edge_chain: the longest run of alternating edges along
// a row or column of img, or -1 if it could not be measured.
func edgeChain(img *gocv.Mat, threshold, gap, rowStep int) int {
	return int(C.cs_edge_chain(matPtr(img), C.int(threshold), C.int(gap), C.int(rowStep)))
}
