// Package watch holds a value that readers can wait on: each Set numbers
// the value with a new version and wakes everyone waiting for a change.
// The UI's long polls (customer screen, counter screen, last scanned code)
// are built on it.
package watch

import (
	"context"
	"sync"
)

// Value is a versioned value with a change channel. The zero value holds
// T's zero value at version 0 and is ready to use; a Value must not be
// copied after first use. Its methods are safe for concurrent use.
type Value[T any] struct {
	mu      sync.Mutex
	v       T
	version uint64
	changed chan struct{}
}

// Set replaces the value, increments the version and wakes the waiters.
// It never blocks, so it may be called under its caller's own lock.
func (w *Value[T]) Set(v T) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.v = v
	w.version++
	if w.changed != nil {
		close(w.changed)
	}
	w.changed = make(chan struct{})
}

// Current returns the value, its version (0 before the first Set) and a
// channel closed at the next Set.
func (w *Value[T]) Current() (T, uint64, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.changed == nil {
		w.changed = make(chan struct{})
	}
	return w.v, w.version, w.changed
}

// Next returns the value once its version is above after, waiting until
// then or until ctx ends; ok reports whether it is.
func (w *Value[T]) Next(ctx context.Context, after uint64) (v T, version uint64, ok bool) {
	for {
		v, version, changed := w.Current()
		if version > after {
			return v, version, true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return v, version, false
		}
	}
}
