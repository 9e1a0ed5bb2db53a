//go:build !noopencv

package daemon

import (
	"context"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/camera"
	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/codereader/codescan"

	// The drivers that link OpenCV: the cameras and the code reader
	// that reads codes in their frames ("camera").
	_ "github.com/guichet/guichet/device/camera/sim"
	_ "github.com/guichet/guichet/device/camera/v4l2"
)

// WithOpenCV says whether this build links OpenCV: the camera drivers, the
// "camera" code reader and the e-ID counter. Builds with the tag noopencv
// leave them out.
const WithOpenCV = true

// checkFaceCamera opens the e-ID counter's face camera and closes it, and
// says what became of it as "devices.face_camera".
func checkFaceCamera(ctx context.Context, cfg *config.Daemon) Outcome {
	const field = "devices.face_camera"
	fc := cfg.Devices.FaceCamera
	c, err := camera.Drivers.Open(ctx, fc.Driver, &fc.Options)
	if err != nil {
		return Outcome{Field: field, Driver: fc.Driver, Err: device.At(field, err)}
	}
	c.Close()
	return Outcome{Field: field, Driver: fc.Driver}
}

// cameraFrames returns the count of frames grabbed by r when r reads
// codes in a camera's frames; ok is false for any other code reader.
func cameraFrames(r codereader.Reader) (frames func() int, ok bool) {
	cs, ok := r.(*codescan.Reader)
	if !ok {
		return nil, false
	}
	return func() int { return cs.Stats().Grabbed }, true
}
