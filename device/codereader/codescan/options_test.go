package codescan

import (
	"testing"

	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/devicetest"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, codereader.Drivers, "camera", []devicetest.OptionCase{
		{Name: "unknown field", Options: "camra: folder", Path: "options.camra", Reason: "unknown field"},
		{Name: "unknown field of the inline config", Options: "camera: folder\ndedup: 3s", Path: "options.dedup", Reason: "unknown field"},
		{Name: "wrong type", Options: "camera: folder\nconfirm: twice", Path: "options.confirm", Reason: "cannot unmarshal"},
		{Name: "wrong type in a list", Options: "camera: folder\nformats: [[QR_CODE]]", Path: "options.formats[0]", Reason: "cannot unmarshal"},
		{Name: "nested unknown field of the camera", Options: "camera: folder\ncamera_options: {pth: /nonexistent}", Path: "options.camera_options.pth", Reason: "unknown field"},
		{Name: "nested wrong type of the camera", Options: "camera: folder\ncamera_options: {fps: fast}", Path: "options.camera_options.fps", Reason: "cannot unmarshal"},
		{Name: "empty", Options: ""},
		{Name: "valid", Options: "camera: folder\ncamera_options: {path: /nonexistent}\nformats: [QR_CODE]\ndedupe: 2s"},
	})
}
