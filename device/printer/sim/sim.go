// Package sim is the simulated receipt printer: it keeps the last slips
// and counts the drawer's openings in memory, for the demo, the UI and the
// tests of the flows. It registers as printer driver "sim".
package sim

import (
	"context"
	"sync"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/printer"
)

// Keep is how many slips the printer remembers, the oldest dropped first.
const Keep = 32

// Options configure the "sim" driver.
type Options struct {
	// Columns is the paper's width in characters, for Text; default 48.
	Columns int `yaml:"columns"`
}

func init() {
	device.Register(printer.Drivers, "sim", func(_ context.Context, o Options) (printer.Printer, error) {
		return New(o), nil
	})
}

// Printer holds the slips printed.
type Printer struct {
	cols  int
	mu    sync.Mutex
	slips []printer.Document
	kicks int
}

// New returns a printer with no slips.
func New(o Options) *Printer {
	if o.Columns <= 0 {
		o.Columns = 48
	}
	return &Printer{cols: o.Columns}
}

// Print keeps d, refusing what a real printer's driver refuses.
func (p *Printer) Print(_ context.Context, d printer.Document) error {
	if err := d.Validate(); err != nil {
		return err
	}
	d.Lines = append([]printer.Line(nil), d.Lines...)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.slips = append(p.slips, d)
	if len(p.slips) > Keep {
		p.slips = p.slips[len(p.slips)-Keep:]
	}
	return nil
}

// OpenDrawer counts an opening.
func (p *Printer) OpenDrawer(context.Context) error {
	p.mu.Lock()
	p.kicks++
	p.mu.Unlock()
	return nil
}

// Slips returns the slips kept, oldest first.
func (p *Printer) Slips() []printer.Document {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]printer.Document(nil), p.slips...)
}

// Last returns the last slip laid out as text, or "" before any.
func (p *Printer) Last() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.slips) == 0 {
		return ""
	}
	return p.slips[len(p.slips)-1].Text(p.cols)
}

// Openings returns how many times the drawer was opened.
func (p *Printer) Openings() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kicks
}

// Close does nothing.
func (p *Printer) Close() error { return nil }
