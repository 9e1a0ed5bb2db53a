package cdev

import (
	"testing"

	"github.com/guichet/guichet/device/devicetest"
	"github.com/guichet/guichet/device/gpio"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, gpio.Drivers, "cdev", []devicetest.OptionCase{
		{Name: "unknown field", Options: "chp: gpiochip0\nlines: {buzzer: {offset: 1}}", Path: "options.chp", Reason: "unknown field"},
		{Name: "nested unknown field", Options: "chip: gpiochip0\nlines: {buzzer: {ofset: 1}}", Path: "options.lines.buzzer.ofset", Reason: "unknown field"},
		{Name: "nested wrong type", Options: "chip: gpiochip0\nlines: {buzzer: {offset: one}}", Path: "options.lines.buzzer.offset", Reason: "cannot unmarshal"},
		{Name: "wrong type", Options: "lines: [buzzer]", Path: "options.lines", Reason: "cannot unmarshal"},
		{Name: "valid", Options: "chip: gpiochip99\nlines: {buzzer: {offset: 1}}"},
		{Name: "empty", Options: ""},
	})
}
