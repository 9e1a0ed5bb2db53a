package samemu

import (
	"context"

	"github.com/guichet/guichet/internal/ptyserve"
)

// PTY is a pseudo-terminal served by an Emulator; its Path is the module's
// serial port for a driver under test.
type PTY = ptyserve.PTY

// ServePTY opens a pseudo-terminal in raw mode and serves it in a goroutine
// until ctx ends or Close is called (see package ptyserve).
func (e *Emulator) ServePTY(ctx context.Context) (*PTY, error) {
	return ptyserve.Start(ctx, e.Serve)
}
