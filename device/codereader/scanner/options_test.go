package scanner

import (
	"testing"

	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/devicetest"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, codereader.Drivers, "hid", []devicetest.OptionCase{
		{Name: "unknown field", Options: "device: /nonexistent\ngrap: false", Path: "options.grap", Reason: "unknown field"},
		{Name: "wrong type", Options: "grab: sometimes", Path: "options.grab", Reason: "cannot unmarshal"},
		{Name: "valid", Options: "device: /nonexistent\ngrab: false\naim: true"},
	})
	devicetest.CheckOptions(t, codereader.Drivers, "serial", []devicetest.OptionCase{
		{Name: "unknown field", Options: "port: /nonexistent\nbauds: 9600", Path: "options.bauds", Reason: "unknown field"},
		{Name: "wrong type", Options: "baud: fast", Path: "options.baud", Reason: "cannot unmarshal"},
		{Name: "valid", Options: "port: /nonexistent\nbaud: 9600"},
		{Name: "empty", Options: ""},
	})
}
