package sam

import (
	"testing"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/devicetest"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, cardreader.Drivers, "sam", []devicetest.OptionCase{
		{Name: "unknown field", Options: "prot: /dev/ttyUSB0", Path: "options.prot", Reason: "unknown field"},
		{Name: "not an option", Options: "logger: stderr", Path: "options.logger", Reason: "unknown field"},
		{Name: "wrong type", Options: "retries: many", Path: "options.retries", Reason: "cannot unmarshal"},
		{Name: "wrong type in a list", Options: "photo_decoder: [wltdecode, [x]]", Path: "options.photo_decoder[1]", Reason: "cannot unmarshal"},
		{Name: "valid", Options: "port: /nonexistent\nbaud: 115200\ntimeout: 1s"},
		{Name: "empty", Options: ""},
	})
}
