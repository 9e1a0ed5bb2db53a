package sim

import (
	"testing"

	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/devicetest"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, codereader.Drivers, "sim", []devicetest.OptionCase{
		{Name: "unknown field", Options: "code: [A]", Path: "options.code", Reason: "unknown field"},
		{Name: "wrong type", Options: "interval: soon", Path: "options.interval", Reason: "time.Duration"},
		{Name: "wrong type in a list", Options: "codes: [A, [B]]", Path: "options.codes[1]", Reason: "cannot unmarshal"},
		{Name: "empty", Options: ""},
		{Name: "valid", Options: "codes: [A]\ninterval: 1ms\nloop: true\nsource: s"},
	})
}
