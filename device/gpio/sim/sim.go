// Package sim is the simulated set of GPIO lines: outputs are kept in
// memory (and shown by the technician page), inputs read as configured.
// It registers as gpio driver "sim".
package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/gpio"
)

// Lines is the simulated line set.
type Lines struct {
	mu    sync.Mutex
	state map[string]bool
	// Pulses counts pulses per line, for tests and the technician page.
	pulses map[string]int
}

// New returns lines all off, with the names of package gpio.
func New() *Lines {
	l := &Lines{state: map[string]bool{}, pulses: map[string]int{}}
	for _, n := range []string{gpio.LineLEDGreen, gpio.LineLEDRed, gpio.LineBuzzer, gpio.LineDrawer, gpio.LineTamper} {
		l.state[n] = false
	}
	return l
}

func init() {
	device.Register(gpio.Drivers, "sim", func(context.Context, struct{}) (gpio.Lines, error) { return New(), nil })
}

// Set drives a line.
func (l *Lines) Set(name string, on bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.state[name]; !ok {
		return fmt.Errorf("gpio sim: no line %q", name)
	}
	l.state[name] = on
	return nil
}

// Pulse drives a line on for d.
func (l *Lines) Pulse(ctx context.Context, name string, d time.Duration) error {
	if err := l.Set(name, true); err != nil {
		return err
	}
	l.mu.Lock()
	l.pulses[name]++
	l.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return l.Set(name, false)
}

// Get reads a line.
func (l *Lines) Get(name string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.state[name]
	if !ok {
		return false, fmt.Errorf("gpio sim: no line %q", name)
	}
	return v, nil
}

// Pulses returns how often name was pulsed.
func (l *Lines) Pulses(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pulses[name]
}

// Close does nothing.
func (l *Lines) Close() error { return nil }
