package sim

import (
	"testing"

	"github.com/guichet/guichet/device/devicetest"
	"github.com/guichet/guichet/device/gpio"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, gpio.Drivers, "sim", []devicetest.OptionCase{
		{Name: "unknown field", Options: "chip: gpiochip0", Path: "options.chip", Reason: "unknown field"},
		{Name: "empty", Options: ""},
	})
}
