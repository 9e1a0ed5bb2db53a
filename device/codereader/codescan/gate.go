package codescan

import (
	"image"

	"gocv.io/x/gocv"
)

// The structure gate. Every code these decoders read is, along some row
// or column, a run of many dark-light edges close together: 20 to 60 in a
// linear code, one or two per module in a QR code. A counter with nothing
// on it has a few edges per line, where boxes and labels begin and end.
// Measured on the test sets and on synthetic 720p frames (see README.md):
// the images only the later passes read have chains of 21 and more, every
// image any pass reads 15 and more, empty frames 7 at most. minChain sits
// between, and the first pass runs whatever the gate says.
const (
	// chainStep is the smallest step, in grey levels over two pixels,
	// counted as an edge: above the sensor noise of an empty frame (about
	// 8 levels standard deviation over two pixels), below the contrast of
	// a blurred 3-pixel bar.
	chainStep = 16
	// chainGap is the longest gap in pixels between two edges of one run.
	chainGap = 16
	// minChain is the run length from which an image is worth the passes.
	minChain = 12
)

// codeLike reports whether d.gray (w by h) has enough edge structure for a
// code to be there, looking at full, half and quarter size so that coarse
// codes (a phone held close) make short gaps too. It leaves the half-size
// image in d.half when it made one.
//
// A chain that could not be measured (-1) counts as code-like: the gate
// may cost a read time, never a read.
func (d *Decoder) codeLike(w, h int) bool {
	// Every other line at full size: a code spans many lines, and this is
	// the costly scale.
	if c := edgeChain(&d.gray, chainStep, chainGap, 2); c < 0 || c >= minChain {
		return true
	}
	if min(w, h) < 2*minSide {
		return false
	}
	gocv.Resize(d.gray, &d.half, image.Pt(w/2, h/2), 0, 0, gocv.InterpolationArea)
	d.halfOK = true
	if c := edgeChain(&d.half, chainStep, chainGap, 1); c < 0 || c >= minChain {
		return true
	}
	if min(w, h) < 4*minSide {
		return false
	}
	gocv.Resize(d.half, &d.work, image.Pt(w/4, h/4), 0, 0, gocv.InterpolationArea)
	c := edgeChain(&d.work, chainStep, chainGap, 1)
	return c < 0 || c >= minChain
}
