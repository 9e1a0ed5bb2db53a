package sim

import (
	"testing"

	"github.com/guichet/guichet/device/devicetest"
	"github.com/guichet/guichet/device/display"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, display.Drivers, "sim", []devicetest.OptionCase{
		{Name: "unknown field", Options: "width: 128", Path: "options.width", Reason: "unknown field"},
		{Name: "empty", Options: ""},
		{Name: "null", Options: "~"},
	})
}
