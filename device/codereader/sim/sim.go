// Package sim is the simulated hand-held scanner, the code readers' test
// double: it yields codes from a list or a channel. It registers as code
// reader driver "sim".
package sim

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/codereader"
)

func init() {
	device.Register(codereader.Drivers, "sim", func(ctx context.Context, o Options) (codereader.Reader, error) {
		return New(o), nil
	})
}

// ErrEnd is returned when a simulated scanner has no more codes.
var ErrEnd = errors.New("scanner: no more codes")

// Options configure the "sim" driver.
type Options struct {
	// Codes are yielded in order; a code given as "FORMAT:text" with a
	// known format ("QR_CODE:...", "EAN_13:...") has that format, any
	// other is UNKNOWN.
	Codes []string `yaml:"codes"`
	// Interval is the wait before each code; default 1s.
	Interval time.Duration `yaml:"interval"`
	// Loop starts the list over at its end instead of returning ErrEnd.
	Loop bool `yaml:"loop"`
	// Source names the scanner in the codes; default "sim".
	Source string `yaml:"source"`
}

// Reader is a simulated scanner: it yields codes from a list or a channel.
type Reader struct {
	codes    []codereader.Code
	ch       <-chan codereader.Code
	interval time.Duration
	loop     bool
	source   string

	mu sync.Mutex
	i  int
}

// New returns a scanner that yields o.Codes.
func New(o Options) *Reader {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Source == "" {
		o.Source = "sim"
	}
	s := &Reader{interval: o.Interval, loop: o.Loop, source: o.Source}
	for _, c := range o.Codes {
		code := codereader.Code{Format: "UNKNOWN", Text: c}
		for _, f := range []string{"QR_CODE", "CODE_128", "EAN_13", "EAN_8", "UPC_A"} {
			if len(c) > len(f) && c[:len(f)] == f && c[len(f)] == ':' {
				code = codereader.Code{Format: f, Text: c[len(f)+1:]}
			}
		}
		s.codes = append(s.codes, code)
	}
	return s
}

// NewChan returns a scanner that yields the codes sent on ch, as they
// come, until ch is closed. Codes without a Source get source.
func NewChan(ch <-chan codereader.Code, source string) *Reader {
	if source == "" {
		source = "sim"
	}
	return &Reader{ch: ch, source: source}
}

// ReadCode returns the next code.
func (s *Reader) ReadCode(ctx context.Context) (codereader.Code, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c codereader.Code
	if s.ch != nil {
		select {
		case <-ctx.Done():
			return codereader.Code{}, ctx.Err()
		case got, ok := <-s.ch:
			if !ok {
				return codereader.Code{}, ErrEnd
			}
			c = got
		}
	} else {
		if s.i == len(s.codes) {
			if !s.loop || len(s.codes) == 0 {
				return codereader.Code{}, ErrEnd
			}
			s.i = 0
		}
		t := time.NewTimer(s.interval)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return codereader.Code{}, ctx.Err()
		case <-t.C:
		}
		c = s.codes[s.i]
		s.i++
	}
	if c.Source == "" {
		c.Source = s.source
	}
	if c.At.IsZero() {
		c.At = time.Now()
	}
	return c, nil
}

// Close does nothing: the simulated scanner holds no resources.
func (s *Reader) Close() error { return nil }
