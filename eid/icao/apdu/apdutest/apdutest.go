// Package apdutest replays recorded APDU exchanges, in the manner of
// periph.io's conntest.Playback: each command sent must be the next
// recorded one, and Close reports recorded steps that were never used.
package apdutest

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
)

// Step is one recorded exchange: the command and the response, written in
// hexadecimal (spaces allowed).
type Step [2]string

// Playback is an apdu.Transmitter that replays Steps.
type Playback struct {
	mu    sync.Mutex
	Steps []Step
	n     int
}

func unhex(s string) ([]byte, error) {
	return hex.DecodeString(strings.ReplaceAll(s, " ", ""))
}

// Transmit checks cmd against the next step and returns its response.
func (p *Playback) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n >= len(p.Steps) {
		return nil, fmt.Errorf("apdutest: unexpected command %X after %d steps", cmd, p.n)
	}
	st := p.Steps[p.n]
	want, err := unhex(st[0])
	if err != nil {
		return nil, fmt.Errorf("apdutest: step %d: %w", p.n, err)
	}
	if !bytes.Equal(cmd, want) {
		return nil, fmt.Errorf("apdutest: step %d: command %X, want %X", p.n, cmd, want)
	}
	p.n++
	return unhex(st[1])
}

// Close reports an error if some steps were not played.
func (p *Playback) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n != len(p.Steps) {
		return fmt.Errorf("apdutest: %d of %d steps played", p.n, len(p.Steps))
	}
	return nil
}
