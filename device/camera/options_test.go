package camera

import (
	"testing"

	"github.com/guichet/guichet/device/devicetest"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, Drivers, "v4l2", []devicetest.OptionCase{
		{Name: "unknown field", Options: "devce: /dev/video0", Path: "options.devce", Reason: "unknown field"},
		{Name: "wrong type", Options: "width: wide", Path: "options.width", Reason: "cannot unmarshal"},
		{Name: "valid", Options: "device: /nonexistent/video9\nfourcc: MJPG"},
	})
	devicetest.CheckOptions(t, Drivers, "video", []devicetest.OptionCase{
		{Name: "unknown field", Options: "pth: x.mp4", Path: "options.pth", Reason: "unknown field"},
		{Name: "wrong type", Options: "loop: sometimes", Path: "options.loop", Reason: "cannot unmarshal"},
		{Name: "empty", Options: ""},
	})
	devicetest.CheckOptions(t, Drivers, "folder", []devicetest.OptionCase{
		{Name: "unknown field", Options: "path: /nonexistent\nfps_: 2", Path: "options.fps_", Reason: "unknown field"},
		{Name: "wrong type", Options: "fps: fast", Path: "options.fps", Reason: "cannot unmarshal"},
		{Name: "empty", Options: ""},
	})
}
