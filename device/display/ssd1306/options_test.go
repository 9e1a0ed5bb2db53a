package ssd1306

import (
	"testing"

	"github.com/guichet/guichet/device/devicetest"
	"github.com/guichet/guichet/device/display"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, display.Drivers, "ssd1306", []devicetest.OptionCase{
		{Name: "unknown field", Options: "adress: 0x3d", Path: "options.adress", Reason: "unknown field"},
		{Name: "wrong type", Options: "width: wide", Path: "options.width", Reason: "cannot unmarshal"},
		{Name: "out of range", Options: "address: 0x10000", Path: "options.address", Reason: "uint16"},
		{Name: "valid", Options: "bus: /nonexistent/i2c-9\naddress: 0x3d"},
	})
}
