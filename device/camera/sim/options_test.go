package sim

import (
	"testing"

	"github.com/guichet/guichet/device/camera"
	"github.com/guichet/guichet/device/devicetest"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, camera.Drivers, "video", []devicetest.OptionCase{
		{Name: "unknown field", Options: "pth: x.mp4", Path: "options.pth", Reason: "unknown field"},
		{Name: "wrong type", Options: "loop: sometimes", Path: "options.loop", Reason: "cannot unmarshal"},
		{Name: "empty", Options: ""},
	})
	devicetest.CheckOptions(t, camera.Drivers, "folder", []devicetest.OptionCase{
		{Name: "unknown field", Options: "path: /nonexistent\nfps_: 2", Path: "options.fps_", Reason: "unknown field"},
		{Name: "wrong type", Options: "fps: fast", Path: "options.fps", Reason: "cannot unmarshal"},
		{Name: "empty", Options: ""},
	})
}
