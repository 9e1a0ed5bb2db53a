// Package camera holds the interface of the counter's cameras and the
// registry of their drivers. Frames are OpenCV matrices (gocv.Mat, 8-bit
// BGR), so only code that links OpenCV imports it.
//
// The drivers live below: v4l2 reads a real camera (driver "v4l2", through
// OpenCV's videoio) and sim holds the simulated twins that play real image
// files through the same OpenCV calls (drivers "video" and "folder").
package camera

import (
	"context"
	"errors"

	"github.com/guichet/guichet/device"
	"gocv.io/x/gocv"
)

// Camera yields frames.
type Camera interface {
	// Read stores the next frame in dst, an 8-bit BGR image, blocking
	// until it is there or ctx ends. It returns ErrEnd at the end of a
	// recording that does not loop.
	Read(ctx context.Context, dst *gocv.Mat) error
	Close() error
}

// Drivers are the camera drivers, by name: "v4l2", "video", "folder".
var Drivers = device.NewRegistry[Camera]("camera")

// ErrEnd is returned by Read when a recording has no more frames.
var ErrEnd = errors.New("camera: end of recording")

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("camera: closed")
