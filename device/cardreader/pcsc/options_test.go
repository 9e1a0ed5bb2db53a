package pcsc

import (
	"testing"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/devicetest"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, cardreader.Drivers, "pcsc", []devicetest.OptionCase{
		{Name: "unknown field", Options: "readr: ACS", Path: "options.readr", Reason: "unknown field"},
		{Name: "wrong type", Options: "index: first", Path: "options.index", Reason: "cannot unmarshal"},
		{Name: "wrong duration", Options: "card_wait: soon", Path: "options.card_wait", Reason: "time.Duration"},
		{Name: "valid", Options: "csca: /nonexistent/csca.pem"},
	})
}
