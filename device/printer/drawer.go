package printer

import (
	"context"
	"time"

	"github.com/guichet/guichet/device/gpio"
)

// Drawer opens the cash drawer: a Printer, whose drawer hangs on its
// kick connector, or a LineDrawer.
type Drawer interface {
	OpenDrawer(ctx context.Context) error
}

// LineDrawer is a cash drawer whose solenoid a GPIO line drives (through
// a driver transistor or a relay), gpio.LineDrawer.
type LineDrawer struct {
	Lines gpio.Lines
	// Pulse is how long the line is driven; zero means 100 ms, which the
	// common 12 and 24 V solenoids take to release the latch.
	Pulse time.Duration
}

// OpenDrawer pulses the drawer line.
func (d LineDrawer) OpenDrawer(ctx context.Context) error {
	p := d.Pulse
	if p <= 0 {
		p = 100 * time.Millisecond
	}
	return d.Lines.Pulse(ctx, gpio.LineDrawer, p)
}
