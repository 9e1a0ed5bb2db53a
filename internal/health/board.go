// Package health is the appliance's view of itself: the state and
// counters of each peripheral (Board), which the device layer keeps up to
// date, and the Gatherer that makes the signed health report the platform
// receives every minute (envelope.Health, docs/protocol.md "Health").
package health

import (
	"sync"

	"github.com/guichet/guichet/sync/envelope"
)

// Board holds each peripheral's state: ok, or degraded with a hint, and its
// error and decode counters. Its methods are safe for concurrent use.
type Board struct {
	mu     sync.Mutex
	devs   map[string]*envelope.HealthDevice
	order  []string
	notify func()
}

// NewBoard returns an empty board.
func NewBoard() *Board { return &Board{devs: map[string]*envelope.HealthDevice{}} }

// Notify sets f to be called, outside the board's lock, each time a
// peripheral changes state (the link republishes its status).
func (b *Board) Notify(f func()) {
	b.mu.Lock()
	b.notify = f
	b.mu.Unlock()
}

// Add lists a peripheral by its place in the configuration, ok until told
// otherwise. Adding it again changes only its driver.
func (b *Board) Add(name, driver string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.get(name).Driver = driver
}

// get returns name's entry, made ok if new; b.mu is held.
func (b *Board) get(name string) *envelope.HealthDevice {
	d := b.devs[name]
	if d == nil {
		d = &envelope.HealthDevice{Name: name, State: envelope.DeviceOK}
		b.devs[name] = d
		b.order = append(b.order, name)
	}
	return d
}

// OK marks name working again.
func (b *Board) OK(name string) { b.set(name, envelope.DeviceOK, "", false) }

// Fail counts an error of name and marks it degraded with hint, which says
// what a technician should look at ("not answering: is it plugged in?").
func (b *Board) Fail(name, hint string) { b.set(name, envelope.DeviceDegraded, hint, true) }

// Error counts an error of name that leaves it working (a garbled read).
func (b *Board) Error(name string) {
	b.mu.Lock()
	b.get(name).Errors++
	b.mu.Unlock()
}

// Decoded counts a code read by name.
func (b *Board) Decoded(name string) {
	b.mu.Lock()
	b.get(name).Decoded++
	b.mu.Unlock()
}

func (b *Board) set(name, state, hint string, failed bool) {
	b.mu.Lock()
	d := b.get(name)
	changed := d.State != state || d.Hint != hint
	d.State, d.Hint = state, hint
	if failed {
		d.Errors++
	}
	f := b.notify
	b.mu.Unlock()
	if changed && f != nil {
		f()
	}
}

// Devices returns a copy of every peripheral's entry, in the order added.
func (b *Board) Devices() []envelope.HealthDevice {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]envelope.HealthDevice, 0, len(b.order))
	for _, n := range b.order {
		out = append(out, *b.devs[n])
	}
	return out
}

// Degraded names the peripherals not ok; nil when all are.
func (b *Board) Degraded() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, n := range b.order {
		if b.devs[n].State != envelope.DeviceOK {
			out = append(out, n)
		}
	}
	return out
}
