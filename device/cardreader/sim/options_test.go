package sim

import (
	"testing"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/devicetest"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, cardreader.Drivers, "sim", []devicetest.OptionCase{
		{Name: "unknown field", Options: "dealy: 1s", Path: "options.dealy", Reason: "unknown field"},
		{Name: "nested unknown field", Options: "card: {kind: sim, surnam: X}", Path: "options.card.surnam", Reason: "unknown field"},
		{Name: "nested field not an option", Options: "card: {photo: x}", Path: "options.card.photo", Reason: "unknown field"},
		{Name: "nested wrong type", Options: "card: {verified: perhaps}", Path: "options.card.verified", Reason: "cannot unmarshal"},
		{Name: "wrong type", Options: "delay: [1s]", Path: "options.delay", Reason: "cannot unmarshal"},
		{Name: "empty", Options: ""},
		{Name: "valid", Options: "card: {kind: sim, surname: X}\ndelay: 1ms"},
	})
}
