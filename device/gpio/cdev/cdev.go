// Package cdev drives the counter's GPIO lines through the Linux GPIO
// character device (uAPI v2, include/uapi/linux/gpio.h, via go-gpiocdev):
// LEDs, buzzer and cash drawer as outputs, the tamper switch as an input
// with edge detection. It registers as gpio driver "cdev".
//
// New validates the configuration and touches nothing; Open requests the
// lines, outputs initialised off; Close releases them.
package cdev

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/warthog618/go-gpiocdev"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/gpio"
)

func init() {
	device.Register(gpio.Drivers, "cdev", func(ctx context.Context, o Options) (gpio.Lines, error) {
		if err := o.unknownField(); err != nil {
			return nil, err
		}
		l, err := New(o)
		if err != nil {
			return nil, err
		}
		if err := l.Open(ctx); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// ErrClosed is returned by calls on closed lines.
var ErrClosed = errors.New("gpio cdev: lines closed")

// watchBuffer is how many edges a slow watcher may fall behind before the
// oldest are dropped; the newest edge, which carries the current state, is
// always kept.
const watchBuffer = 32

// Lines is the set of configured lines on one chip.
type Lines struct {
	cfg config

	mu       sync.Mutex
	open     bool
	closed   bool
	done     chan struct{} // closed by Close, ends Watch calls
	reqs     map[string]*gpiocdev.Line
	byName   map[string]line
	byOffset map[int]string

	// wmu guards watchers apart from mu: onEdge runs on go-gpiocdev's
	// goroutine, which Close waits for while holding mu.
	wmu      sync.Mutex
	watchers map[string]map[chan bool]struct{}
}

// New validates o; it does not touch the hardware.
func New(o Options) (*Lines, error) {
	cfg, err := o.validate()
	if err != nil {
		return nil, err
	}
	l := &Lines{
		cfg:      cfg,
		done:     make(chan struct{}),
		reqs:     map[string]*gpiocdev.Line{},
		byName:   map[string]line{},
		byOffset: map[int]string{},
		watchers: map[string]map[chan bool]struct{}{},
	}
	for _, ln := range cfg.lines {
		l.byName[ln.name] = ln
		l.byOffset[ln.offset] = ln.name
	}
	return l, nil
}

// Open requests every configured line from the chip: outputs driven off,
// inputs with edge detection on both edges. On error nothing stays
// requested. ctx is checked between requests; the ioctls themselves do not
// block.
func (l *Lines) Open(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.open {
		return fmt.Errorf("gpio cdev %s: already open", l.cfg.chip)
	}
	chip, err := gpiocdev.NewChip(l.cfg.chip, gpiocdev.WithConsumer(l.cfg.consumer))
	if err != nil {
		return fmt.Errorf("gpio cdev: open chip %s: %w", l.cfg.chip, err)
	}
	defer chip.Close()
	n := chip.Lines()
	for _, ln := range l.cfg.lines {
		if err := ctx.Err(); err != nil {
			l.releaseLocked()
			return fmt.Errorf("gpio cdev %s: %w", l.cfg.chip, err)
		}
		if ln.offset >= n {
			l.releaseLocked()
			return fmt.Errorf("gpio cdev %s: line %q: offset %d beyond the chip's %d lines", l.cfg.chip, ln.name, ln.offset, n)
		}
		req, err := chip.RequestLine(ln.offset, l.lineOptions(ln)...)
		if err != nil {
			l.releaseLocked()
			return fmt.Errorf("gpio cdev %s: request line %q (offset %d): %w", l.cfg.chip, ln.name, ln.offset, err)
		}
		l.reqs[ln.name] = req
	}
	l.open = true
	return nil
}

func (l *Lines) lineOptions(ln line) []gpiocdev.LineReqOption {
	var opts []gpiocdev.LineReqOption
	if ln.activeLow {
		opts = append(opts, gpiocdev.AsActiveLow)
	}
	switch ln.bias {
	case "pull-up":
		opts = append(opts, gpiocdev.WithPullUp)
	case "pull-down":
		opts = append(opts, gpiocdev.WithPullDown)
	case "disabled":
		opts = append(opts, gpiocdev.WithBiasDisabled)
	}
	if !ln.input {
		return append(opts, gpiocdev.AsOutput(0))
	}
	opts = append(opts, gpiocdev.AsInput, gpiocdev.WithBothEdges, gpiocdev.WithEventHandler(l.onEdge))
	if ln.debounce > 0 {
		opts = append(opts, gpiocdev.WithDebounce(ln.debounce))
	}
	return opts
}

// onEdge runs on go-gpiocdev's watcher goroutine, which Close ends by
// releasing the line. Edges are reported relative to the active level, so
// a rising edge means "on" even for an active-low switch.
func (l *Lines) onEdge(ev gpiocdev.LineEvent) {
	on := ev.Type == gpiocdev.LineEventRisingEdge
	l.wmu.Lock()
	defer l.wmu.Unlock()
	for ch := range l.watchers[l.byOffset[ev.Offset]] {
		select {
		case ch <- on:
		default:
			// Full: drop the oldest so the latest state gets through.
			select {
			case <-ch:
				slog.Warn("gpio cdev: watcher too slow, dropped an edge", "chip", l.cfg.chip, "line", l.byOffset[ev.Offset])
			default:
			}
			select {
			case ch <- on:
			default:
			}
		}
	}
}

// releaseLocked closes every requested line; l.mu is held.
func (l *Lines) releaseLocked() error {
	var errs []error
	for name, req := range l.reqs {
		if err := req.Close(); err != nil {
			errs = append(errs, fmt.Errorf("gpio cdev %s: release line %q: %w", l.cfg.chip, name, err))
		}
		delete(l.reqs, name)
	}
	return errors.Join(errs...)
}

func (l *Lines) request(name string, output bool) (*gpiocdev.Line, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	ln, ok := l.byName[name]
	if !ok {
		return nil, fmt.Errorf("gpio cdev %s: no line %q configured", l.cfg.chip, name)
	}
	if output && ln.input {
		return nil, fmt.Errorf("gpio cdev %s: line %q is an input", l.cfg.chip, name)
	}
	req := l.reqs[name]
	if req == nil {
		return nil, fmt.Errorf("gpio cdev %s: line %q: not open", l.cfg.chip, name)
	}
	return req, nil
}

// Set drives the named output line on (active) or off.
func (l *Lines) Set(name string, on bool) error {
	req, err := l.request(name, true)
	if err != nil {
		return err
	}
	v := 0
	if on {
		v = 1
	}
	if err := req.SetValue(v); err != nil {
		return fmt.Errorf("gpio cdev %s: set line %q: %w", l.cfg.chip, name, err)
	}
	return nil
}

// Pulse drives the named output on for d, then off. If ctx ends first the
// line is turned off at once and ctx's error returned.
func (l *Lines) Pulse(ctx context.Context, name string, d time.Duration) error {
	if err := l.Set(name, true); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	var cerr error
	select {
	case <-ctx.Done():
		cerr = fmt.Errorf("gpio cdev %s: pulse line %q: %w", l.cfg.chip, name, ctx.Err())
	case <-t.C:
	}
	return errors.Join(l.Set(name, false), cerr)
}

// Get reads the named line: the input's level, or the output's driven
// value, as on (active) or off.
func (l *Lines) Get(name string) (bool, error) {
	req, err := l.request(name, false)
	if err != nil {
		return false, err
	}
	v, err := req.Value()
	if err != nil {
		return false, fmt.Errorf("gpio cdev %s: get line %q: %w", l.cfg.chip, name, err)
	}
	return v == 1, nil
}

// Watch calls fn with the new state at each edge of the named input until
// ctx ends or the lines are closed; it blocks, so the caller's goroutine
// owns the watch. It returns ctx's error, or ErrClosed after Close.
func (l *Lines) Watch(ctx context.Context, name string, fn func(on bool)) error {
	l.mu.Lock()
	ln, ok := l.byName[name]
	switch {
	case l.closed:
		l.mu.Unlock()
		return ErrClosed
	case !ok:
		l.mu.Unlock()
		return fmt.Errorf("gpio cdev %s: no line %q configured", l.cfg.chip, name)
	case !ln.input:
		l.mu.Unlock()
		return fmt.Errorf("gpio cdev %s: line %q is an output; only inputs can be watched", l.cfg.chip, name)
	}
	done := l.done
	l.mu.Unlock()
	ch := make(chan bool, watchBuffer)
	l.wmu.Lock()
	if l.watchers[name] == nil {
		l.watchers[name] = map[chan bool]struct{}{}
	}
	l.watchers[name][ch] = struct{}{}
	l.wmu.Unlock()
	defer func() {
		l.wmu.Lock()
		delete(l.watchers[name], ch)
		l.wmu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-done:
			return ErrClosed
		case on := <-ch:
			fn(on)
		}
	}
}

// Close turns the outputs off, releases the lines and ends Watch calls.
// Closing twice is not an error.
func (l *Lines) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.done)
	var errs []error
	for name, req := range l.reqs {
		// The kernel leaves a released output as it was on many chips; a
		// drawer solenoid left on would burn, so drive it off first.
		if !l.byName[name].input {
			if err := req.SetValue(0); err != nil {
				errs = append(errs, fmt.Errorf("gpio cdev %s: turn off line %q: %w", l.cfg.chip, name, err))
			}
		}
	}
	errs = append(errs, l.releaseLocked())
	return errors.Join(errs...)
}
