package ui

import (
	"context"
	"sync"
	"time"

	"github.com/guichet/guichet/device/codereader"
)

// Scans holds the last code read by any scanner, numbered, so the
// cashier's page can wait for the next one.
type Scans struct {
	mu      sync.Mutex
	last    codereader.Code
	n       uint64
	changed chan struct{}
}

// NewScans returns an empty Scans.
func NewScans() *Scans { return &Scans{changed: make(chan struct{})} }

// Add records a code.
func (s *Scans) Add(c codereader.Code) {
	s.mu.Lock()
	s.last = c
	s.n++
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Count returns the number of the last code, 0 before the first.
func (s *Scans) Count() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Wait returns the last code if its number is above after, waiting up to d
// for one.
func (s *Scans) Wait(ctx context.Context, after uint64, d time.Duration) (codereader.Code, uint64, bool) {
	s.mu.Lock()
	c, n, ch := s.last, s.n, s.changed
	s.mu.Unlock()
	if n > after {
		return c, n, true
	}
	select {
	case <-ch:
	case <-time.After(d):
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.n, s.n > after
}
