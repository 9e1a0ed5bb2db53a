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
	// watchers are the Watch calls' functions by line; watched[name] is
	// closed once name has one.
	watchers map[string]map[*func(bool)]struct{}
	watched  map[string]chan struct{}
}

// New returns lines all off, with the names of package gpio.
func New() *Lines {
	l := &Lines{state: map[string]bool{}, pulses: map[string]int{}, watchers: map[string]map[*func(bool)]struct{}{}, watched: map[string]chan struct{}{}}
	for _, n := range []string{gpio.LineLEDGreen, gpio.LineLEDRed, gpio.LineBuzzer, gpio.LineDrawer, gpio.LineTamper} {
		l.state[n] = false
	}
	return l
}

func init() {
	device.Register(gpio.Drivers, "sim", func(context.Context, struct{}) (gpio.Lines, error) { return New(), nil })
}

// Set drives a line; for an input such as the tamper switch, it is how a
// test or the demo moves it. The watchers of the line are called, before
// Set returns, when its level changes.
func (l *Lines) Set(name string, on bool) error {
	l.mu.Lock()
	old, ok := l.state[name]
	if !ok {
		l.mu.Unlock()
		return fmt.Errorf("gpio sim: no line %q", name)
	}
	l.state[name] = on
	var fns []func(bool)
	if old != on {
		for fn := range l.watchers[name] {
			fns = append(fns, *fn)
		}
	}
	l.mu.Unlock()
	for _, fn := range fns {
		fn(on)
	}
	return nil
}

// Watch calls fn with the new level at each change of the named line
// until ctx ends, and returns ctx's error.
func (l *Lines) Watch(ctx context.Context, name string, fn func(on bool)) error {
	l.mu.Lock()
	if _, ok := l.state[name]; !ok {
		l.mu.Unlock()
		return fmt.Errorf("gpio sim: no line %q", name)
	}
	if l.watchers[name] == nil {
		l.watchers[name] = map[*func(bool)]struct{}{}
	}
	l.watchers[name][&fn] = struct{}{}
	l.watchedLocked(name)
	select {
	case <-l.watched[name]:
	default:
		close(l.watched[name])
	}
	l.mu.Unlock()
	<-ctx.Done()
	l.mu.Lock()
	delete(l.watchers[name], &fn)
	l.mu.Unlock()
	return ctx.Err()
}

// Watched returns a channel closed once the named line has a watcher, so
// that a test moves an input only once someone follows it.
func (l *Lines) Watched(name string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.watchedLocked(name)
}

func (l *Lines) watchedLocked(name string) chan struct{} {
	if l.watched[name] == nil {
		l.watched[name] = make(chan struct{})
	}
	return l.watched[name]
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
