// Package sim is the simulated customer display: it keeps the screen in
// memory, and the web UI's customer page renders it. It registers as
// display driver "sim" (also used for a real second screen driven by the
// kiosk browser).
package sim

import (
	"context"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/internal/watch"
)

// Display holds the current screen.
type Display struct {
	screen watch.Value[display.Screen]
}

// New returns a blank display.
func New() *Display { return &Display{} }

func init() {
	device.Register(display.Drivers, "sim", func(context.Context, struct{}) (display.Display, error) { return New(), nil })
}

// Show replaces the screen.
func (d *Display) Show(_ context.Context, s display.Screen) error {
	d.screen.Set(display.Screen{QR: s.QR, Lines: append([]string(nil), s.Lines...), Status: s.Status})
	return nil
}

// Current returns the screen, its version, and a channel closed at the
// next change.
func (d *Display) Current() (display.Screen, uint64, <-chan struct{}) {
	return d.screen.Current()
}

// Close does nothing.
func (d *Display) Close() error { return nil }
