// Package sim is the simulated customer display: it keeps the screen in
// memory, and the web UI's customer page renders it. It registers as
// display driver "sim" (also used for a real second screen driven by the
// kiosk browser).
package sim

import (
	"context"
	"sync"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/display"
)

// Display holds the current screen.
type Display struct {
	mu      sync.Mutex
	screen  display.Screen
	version uint64
	changed chan struct{}
}

// New returns a blank display.
func New() *Display { return &Display{changed: make(chan struct{})} }

func init() {
	device.Register(display.Drivers, "sim", func(context.Context, struct{}) (display.Display, error) { return New(), nil })
}

// Show replaces the screen.
func (d *Display) Show(_ context.Context, s display.Screen) error {
	d.mu.Lock()
	d.screen = display.Screen{QR: s.QR, Lines: append([]string(nil), s.Lines...)}
	d.version++
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
	return nil
}

// Current returns the screen, its version, and a channel closed at the
// next change.
func (d *Display) Current() (display.Screen, uint64, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.screen, d.version, d.changed
}

// Close does nothing.
func (d *Display) Close() error { return nil }
