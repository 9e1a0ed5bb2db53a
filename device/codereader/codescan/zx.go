package codescan

import "gocv.io/x/gocv"

// zxingSafe reads h.formats in img as two calls when they mix matrix and
// linear formats: all QR codes, and at most one linear code, the only way
// to keep Debian's zxing-cpp 1.4.0 clear of its aborting assertion (see
// shim.h).
func zxingSafe(img *gocv.Mat, h zxingHints) ([]raw, error) {
	h.tryRotate, h.tryDownscale = false, false
	var out []raw
	if q := h.formats &^ linearBits; q != 0 {
		hq := h
		hq.formats = q
		rs, err := zxingRead(img, hq)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	if l := h.formats & linearBits; l != 0 {
		hl := h
		hl.formats, hl.maxSymbols = l, 1
		rs, err := zxingRead(img, hl)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}
