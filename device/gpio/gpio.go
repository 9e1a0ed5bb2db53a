// Package gpio holds the interface through which the flows drive the
// counter's LEDs, buzzer and cash drawer and read its tamper switch, and
// the registry of its drivers.
//
// The drivers live below: cdev drives the Linux GPIO character device
// (driver "cdev") and sim keeps the lines in memory for demos and tests
// (driver "sim").
package gpio

import (
	"context"
	"time"

	"github.com/guichet/guichet/device"
)

// Line names of the GPIO outputs and inputs the flows use.
const (
	LineLEDGreen = "led_green"
	LineLEDRed   = "led_red"
	LineBuzzer   = "buzzer"
	LineDrawer   = "drawer"
	LineTamper   = "tamper"
)

// Lines drives the counter's GPIO lines: LEDs, buzzer, cash drawer, and
// reads the tamper switch.
type Lines interface {
	// Set drives the named output line.
	Set(name string, on bool) error
	// Pulse drives the named output on for d, then off.
	Pulse(ctx context.Context, name string, d time.Duration) error
	// Get reads the named line.
	Get(name string) (bool, error)
	Close() error
}

// Drivers are the gpio drivers, by name.
var Drivers = device.NewRegistry[Lines]("gpio")
