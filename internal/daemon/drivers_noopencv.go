//go:build noopencv

package daemon

import (
	"context"
	"errors"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/codereader"
)

// WithOpenCV says whether this build links OpenCV: the camera drivers, the
// "camera" code reader and the e-ID counter. Builds with the tag noopencv
// leave them out.
const WithOpenCV = false

// ErrNoOpenCV is why a camera, the "camera" code reader or the e-ID
// counter is refused by a build without OpenCV.
var ErrNoOpenCV = errors.New("this guichetd was built without OpenCV (build tag noopencv): cameras, camera code reading and the e-ID counter need the full build")

func init() {
	// The name stays known, so that a configuration asking for it is
	// told why it cannot have it, at its own place in the configuration.
	device.Register(codereader.Drivers, "camera", func(context.Context, yaml.Node) (codereader.Reader, error) {
		return nil, ErrNoOpenCV
	})
}

// checkFaceCamera refuses the face camera: there is no camera driver
// without OpenCV.
func checkFaceCamera(_ context.Context, cfg *config.Daemon) Outcome {
	const field = "devices.face_camera"
	return Outcome{Field: field, Driver: cfg.Devices.FaceCamera.Driver, Err: device.At(field, ErrNoOpenCV)}
}

// cameraFrames says r is not a camera: none is built in.
func cameraFrames(codereader.Reader) (func() int, bool) { return nil, false }
