//go:build noopencv

package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device/codereader"
)

// TestNoOpenCVRefusesCameras checks, in the build without OpenCV, that a
// configuration asking for a camera, as a code reader or as the e-ID
// counter's face camera, is refused at its own field with the reason, and
// that the rest of the devices still open.
func TestNoOpenCVRefusesCameras(t *testing.T) {
	if WithOpenCV {
		t.Fatal("WithOpenCV is true in a noopencv build")
	}
	if !codereader.Drivers.Has("camera") {
		t.Fatal(`code reader "camera" is not registered: a configuration naming it would get "unknown driver", not the reason`)
	}
	cfg := &config.Daemon{Hardware: "sim"}
	cfg.Devices.CodeReaders = []config.Driver{driver(t, "sim", "codes: [A]"), driver(t, "camera", "camera: video\ncamera_options: {path: x.mp4}")}
	cfg.Devices.FaceCamera = driver(t, "video", "path: face.mp4")
	cfg.EID.Counter = true
	outs, err := CheckDevices(context.Background(), cfg)
	if !errors.Is(err, ErrNoOpenCV) {
		t.Fatalf("CheckDevices: %v, want ErrNoOpenCV", err)
	}
	for _, want := range []string{
		"devices.code_readers[1]: code reader driver \"camera\": this guichetd was built without OpenCV",
		"devices.face_camera: this guichetd was built without OpenCV",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	loaded := 0
	for _, o := range outs {
		if o.Err == nil {
			loaded++
		}
	}
	// The sim code reader, card reader, display and GPIO.
	if loaded != 4 {
		t.Errorf("%d devices loaded, want 4: %v", loaded, outs)
	}
	_, _, err = openDesk(context.Background(), cfg, nil, nil, nil, nil, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "eid.counter: ") || !errors.Is(err, ErrNoOpenCV) {
		t.Errorf("openDesk: %v, want eid.counter: and ErrNoOpenCV", err)
	}
}
