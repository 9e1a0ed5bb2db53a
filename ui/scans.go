package ui

import (
	"context"
	"time"

	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/internal/watch"
)

// Scans holds the last code read by any scanner, numbered, so the
// cashier's page can wait for the next one.
type Scans struct {
	last watch.Value[codereader.Code]
}

// NewScans returns an empty Scans.
func NewScans() *Scans { return &Scans{} }

// Add records a code.
func (s *Scans) Add(c codereader.Code) { s.last.Set(c) }

// Count returns the number of the last code, 0 before the first.
func (s *Scans) Count() uint64 {
	_, n, _ := s.last.Current()
	return n
}

// Wait returns the last code if its number is above after, waiting up to d
// for one.
func (s *Scans) Wait(ctx context.Context, after uint64, d time.Duration) (codereader.Code, uint64, bool) {
	c, n, ch := s.last.Current()
	if n > after {
		return c, n, true
	}
	select {
	case <-ch:
	case <-time.After(d):
	case <-ctx.Done():
	}
	c, n, _ = s.last.Current()
	return c, n, n > after
}
