// Package escposemu emulates an ESC/POS receipt printer for tests and
// demonstrations: it parses the byte stream a driver sends, keeps a model
// of each slip (its text lines, decoded from GB18030 in Chinese mode, its
// QR codes and its cut), answers real-time status requests, records the
// drawer kick pulses, and renders a slip to an image (render.go).
//
// It reads strictly the commands of package device/printer/escpos's
// driver; any other byte sequence is an error that stops it and that
// Err returns, so a test sees a driver that sends something a printer
// would misread. It is written from the command reference, not from the
// driver's encoder, so that each checks the other.
package escposemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Align is a line's alignment, as ESC a sets it.
type Align int

// The alignments.
const (
	Left Align = iota
	Center
	Right
)

// Item is one printed line of a slip: text, or a QR code when QR is set.
type Item struct {
	Text  string
	Align Align
	Bold  bool
	// Width and Height are the character size multipliers of GS !.
	Width, Height int
	// QR is the data of a QR code; QRSize its module size in dots and
	// QRLevel its error correction level ('L', 'M', 'Q' or 'H').
	QR      string
	QRSize  int
	QRLevel byte
}

// Slip is what was printed up to a cut.
type Slip struct {
	Items []Item
	// Cut is the GS V function that ended the slip (0, 1, 48, 49, 65 or
	// 66), or -1 while it is not cut.
	Cut int
}

// Lines returns the text of the slip's lines, a QR code as "[QR data]".
func (s Slip) Lines() []string {
	var out []string
	for _, it := range s.Items {
		if it.QR != "" {
			out = append(out, "[QR "+it.QR+"]")
		} else {
			out = append(out, it.Text)
		}
	}
	return out
}

// Kick is a drawer kick pulse (ESC p).
type Kick struct {
	Pin     int // 2 or 5
	On, Off time.Duration
}

// Errors of the stream.
var (
	// ErrUnknown is a command the emulator does not know.
	ErrUnknown = errors.New("escposemu: unknown command")
	// ErrParam is a known command with a parameter out of its range.
	ErrParam = errors.New("escposemu: bad parameter")
	// ErrText is text the printer cannot print: a byte from 0x80 outside
	// Chinese mode, or bytes that are not GB18030 in it.
	ErrText = errors.New("escposemu: bad text")
	// ErrTruncated is a stream that ended inside a command.
	ErrTruncated = errors.New("escposemu: stream ends inside a command")
)

// maxQR is the most data GS ( k function 180 stores (version 40-L).
const maxQR = 7089

// Emulator is one printer. Its methods may be called from any goroutine.
type Emulator struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced at each change

	buf []byte // bytes not yet parsed: the start of a command

	// Print modes.
	align         Align
	bold, chinese bool
	w, h          int
	qrSize        int
	qrLevel       byte
	qrData        []byte
	line          []byte // raw text of the line being composed

	cur   Slip
	slips []Slip
	kicks []Kick

	paperOut, drawerOpen bool
	err                  error
}

// New returns a printer with paper, its drawer closed.
func New() *Emulator {
	e := &Emulator{changed: make(chan struct{})}
	e.reset()
	e.cur.Cut = -1
	return e
}

func (e *Emulator) reset() {
	e.align, e.bold, e.chinese, e.w, e.h = Left, false, false, 1, 1
	e.qrSize, e.qrLevel, e.qrData = 3, 'L', nil
	e.line = e.line[:0]
}

// SetPaperOut makes the printer report it is out of paper, or not.
func (e *Emulator) SetPaperOut(out bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.paperOut = out
}

// SetDrawerOpen sets the drawer's switch: a kick opens the drawer, the
// cashier's hand closes it.
func (e *Emulator) SetDrawerOpen(open bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.drawerOpen = open
}

// State is a copy of what the emulator saw.
type State struct {
	// Slips are the slips cut, oldest first.
	Slips []Slip
	// Pending is what was printed since the last cut.
	Pending Slip
	Kicks   []Kick
	// Err is the first error in the stream; the emulator stopped there.
	Err error
}

// State returns a copy of the emulator's state.
func (e *Emulator) State() State {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state()
}

func (e *Emulator) state() State {
	s := State{Slips: append([]Slip(nil), e.slips...), Kicks: append([]Kick(nil), e.kicks...), Err: e.err}
	s.Pending = Slip{Items: append([]Item(nil), e.cur.Items...), Cut: -1}
	return s
}

// Wait returns the state once cond holds for it or the stream failed,
// or ctx's error.
func (e *Emulator) Wait(ctx context.Context, cond func(State) bool) (State, error) {
	for {
		e.mu.Lock()
		s, ch := e.state(), e.changed
		e.mu.Unlock()
		if s.Err != nil {
			return s, s.Err
		}
		if cond(s) {
			return s, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s, ctx.Err()
		}
	}
}

// Feed parses b, after what earlier calls left of an unfinished command,
// and returns the bytes the printer answers (status replies). After an
// error the emulator parses nothing more and Feed returns that error.
func (e *Emulator) Feed(b []byte) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return nil, e.err
	}
	e.buf = append(e.buf, b...)
	var reply []byte
	for len(e.buf) > 0 {
		n, r, err := e.command(e.buf)
		if err != nil {
			e.fail(err)
			return reply, err
		}
		if n == 0 {
			break // the rest of the command is still to come
		}
		reply = append(reply, r...)
		e.buf = e.buf[n:]
	}
	if len(e.buf) == 0 {
		e.buf = nil // let a long QR store's buffer go
	}
	e.notify()
	return reply, nil
}

// End tells the emulator the stream ended: an unfinished command is
// ErrTruncated.
func (e *Emulator) End() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil && len(e.buf) > 0 {
		e.fail(fmt.Errorf("%w: % x", ErrTruncated, e.buf[:min(len(e.buf), 16)]))
	}
	return e.err
}

func (e *Emulator) fail(err error) {
	e.err = err
	e.buf = nil
	e.notify()
}

func (e *Emulator) notify() {
	close(e.changed)
	e.changed = make(chan struct{})
}

// command parses the command at the start of b. It returns the bytes it
// takes, 0 when b holds only its start, and the status reply, if any.
func (e *Emulator) command(b []byte) (int, []byte, error) {
	c := b[0]
	switch {
	case c == 0x0a: // LF
		return 1, nil, e.printLine()
	case c >= 0x20 && c < 0x7f:
		e.line = append(e.line, c)
		return 1, nil, nil
	case c >= 0x80:
		if !e.chinese {
			return 0, nil, fmt.Errorf("%w: byte %#02x outside Chinese mode", ErrText, c)
		}
		e.line = append(e.line, c)
		return 1, nil, nil
	case c == 0x1b:
		return e.esc(b)
	case c == 0x1d:
		return e.gs(b)
	case c == 0x1c:
		if len(b) < 2 {
			return 0, nil, nil
		}
		switch b[1] {
		case '&':
			e.chinese = true
		case '.':
			e.chinese = false
		default:
			return 0, nil, fmt.Errorf("%w: FS %#02x", ErrUnknown, b[1])
		}
		return 2, nil, nil
	case c == 0x10:
		if len(b) < 3 {
			return 0, nil, nil
		}
		if b[1] != 0x04 || b[2] < 1 || b[2] > 4 {
			return 0, nil, fmt.Errorf("%w: DLE % x", ErrUnknown, b[1:3])
		}
		return 3, []byte{e.status(b[2])}, nil
	}
	return 0, nil, fmt.Errorf("%w: control byte %#02x", ErrUnknown, c)
}

// status answers DLE EOT n: bits 1 and 4 always set.
func (e *Emulator) status(n byte) byte {
	s := byte(0x12)
	switch n {
	case 1:
		if e.drawerOpen {
			s |= 0x04
		}
	case 2:
		if e.paperOut {
			s |= 0x20
		}
	case 4:
		if e.paperOut {
			s |= 0x60
		}
	}
	return s
}

func (e *Emulator) esc(b []byte) (int, []byte, error) {
	if len(b) < 2 {
		return 0, nil, nil
	}
	need := map[byte]int{'@': 2, 'a': 3, 'E': 3, 'd': 3, 'p': 5}[b[1]]
	if need == 0 {
		return 0, nil, fmt.Errorf("%w: ESC %#02x", ErrUnknown, b[1])
	}
	if len(b) < need {
		return 0, nil, nil
	}
	switch b[1] {
	case '@':
		e.reset()
	case 'a':
		switch n := b[2]; n {
		case 0, 1, 2, 48, 49, 50:
			e.align = Align(n % 48)
		default:
			return 0, nil, fmt.Errorf("%w: ESC a %d", ErrParam, n)
		}
	case 'E':
		e.bold = b[2]&1 == 1
	case 'd':
		if err := e.flushLine(); err != nil {
			return 0, nil, err
		}
		for range b[2] {
			e.cur.Items = append(e.cur.Items, Item{Width: 1, Height: 1})
		}
	case 'p':
		pin := map[byte]int{0: 2, 48: 2, 1: 5, 49: 5}[b[2]]
		if pin == 0 {
			return 0, nil, fmt.Errorf("%w: ESC p pin %d", ErrParam, b[2])
		}
		e.kicks = append(e.kicks, Kick{Pin: pin, On: time.Duration(b[3]) * 2 * time.Millisecond, Off: time.Duration(b[4]) * 2 * time.Millisecond})
		e.drawerOpen = true
	}
	return need, nil, nil
}

func (e *Emulator) gs(b []byte) (int, []byte, error) {
	if len(b) < 2 {
		return 0, nil, nil
	}
	switch b[1] {
	case '!':
		if len(b) < 3 {
			return 0, nil, nil
		}
		if b[2]&0x88 != 0 {
			return 0, nil, fmt.Errorf("%w: GS ! %#02x", ErrParam, b[2])
		}
		e.w, e.h = int(b[2]>>4)+1, int(b[2]&7)+1
		return 3, nil, nil
	case 'V':
		if len(b) < 3 {
			return 0, nil, nil
		}
		n := 3
		switch b[2] {
		case 0, 1, 48, 49:
		case 65, 66:
			n = 4
		default:
			return 0, nil, fmt.Errorf("%w: GS V %d", ErrParam, b[2])
		}
		if len(b) < n {
			return 0, nil, nil
		}
		// The printer prints what it holds before cutting.
		if err := e.flushLine(); err != nil {
			return 0, nil, err
		}
		e.cur.Cut = int(b[2])
		e.slips = append(e.slips, e.cur)
		e.cur = Slip{Cut: -1}
		return n, nil, nil
	case '(':
		return e.qr(b)
	}
	return 0, nil, fmt.Errorf("%w: GS %#02x", ErrUnknown, b[1])
}

// qr parses GS ( k pL pH cn fn parameters, for a QR code (cn 49).
func (e *Emulator) qr(b []byte) (int, []byte, error) {
	if len(b) < 5 {
		return 0, nil, nil
	}
	if b[2] != 'k' {
		return 0, nil, fmt.Errorf("%w: GS ( %#02x", ErrUnknown, b[2])
	}
	size := int(b[3]) | int(b[4])<<8
	// A length no QR function has is refused at once: waiting for 64 KiB
	// that will never come would hang the printer.
	if size < 2 || size > maxQR+3 {
		return 0, nil, fmt.Errorf("%w: GS ( k length %d", ErrParam, size)
	}
	if len(b) < 5+size {
		return 0, nil, nil
	}
	cn, fn, p := b[5], b[6], b[7:5+size]
	if cn != '1' {
		return 0, nil, fmt.Errorf("%w: GS ( k symbol %#02x (only QR, 49)", ErrUnknown, cn)
	}
	bad := func() (int, []byte, error) {
		return 0, nil, fmt.Errorf("%w: GS ( k function %d with % x", ErrParam, fn, p[:min(len(p), 8)])
	}
	switch fn {
	case 'A': // 165: model
		if len(p) != 2 || (p[0] != '1' && p[0] != '2') || p[1] != 0 {
			return bad()
		}
	case 'C': // 167: module size
		if len(p) != 1 || p[0] < 1 || p[0] > 16 {
			return bad()
		}
		e.qrSize = int(p[0])
	case 'E': // 169: error correction
		if len(p) != 1 || p[0] < '0' || p[0] > '3' {
			return bad()
		}
		e.qrLevel = "LMQH"[p[0]-'0']
	case 'P': // 180: store
		if len(p) < 2 || p[0] != '0' {
			return bad()
		}
		e.qrData = append([]byte(nil), p[1:]...)
	case 'Q': // 181: print
		if len(p) != 1 || p[0] != '0' || len(e.qrData) == 0 {
			return bad()
		}
		if err := e.flushLine(); err != nil {
			return 0, nil, err
		}
		e.cur.Items = append(e.cur.Items, Item{QR: string(e.qrData), QRSize: e.qrSize, QRLevel: e.qrLevel, Align: e.align})
	default:
		return 0, nil, fmt.Errorf("%w: GS ( k function %d", ErrUnknown, fn)
	}
	return 5 + size, nil, nil
}

// printLine prints the line composed (LF): an empty one feeds a line.
func (e *Emulator) printLine() error {
	text, err := decode(e.line)
	if err != nil {
		return err
	}
	e.cur.Items = append(e.cur.Items, Item{Text: text, Align: e.align, Bold: e.bold, Width: e.w, Height: e.h})
	e.line = e.line[:0]
	return nil
}

// flushLine prints the line composed, if any, as commands that print
// (ESC d, GS V, a QR code) do.
func (e *Emulator) flushLine() error {
	if len(e.line) == 0 {
		return nil
	}
	return e.printLine()
}

// decode reads raw as GB18030 (ASCII is itself in it). x/text's decoder
// turns bytes that are not GB18030 into U+FFFD without an error; encoding
// the text back and comparing catches them, GB18030 mapping every
// character to one sequence.
func decode(raw []byte) (string, error) {
	text, err := simplifiedchinese.GB18030.NewDecoder().Bytes(raw)
	if err == nil {
		var back []byte
		back, err = simplifiedchinese.GB18030.NewEncoder().Bytes(text)
		if err == nil && !bytes.Equal(back, raw) {
			err = errors.New("not GB18030")
		}
	}
	if err != nil {
		return "", fmt.Errorf("%w: % x: %v", ErrText, raw[:min(len(raw), 16)], err)
	}
	return string(text), nil
}

// Serve reads the stream from rw and writes the printer's answers to it
// until ctx ends, rw fails or the stream is wrong; it returns the error
// that ended it, nil for the end of the stream or of ctx.
func (e *Emulator) Serve(ctx context.Context, rw io.ReadWriter) error {
	stop := context.AfterFunc(ctx, func() {
		if c, ok := rw.(io.Closer); ok {
			c.Close()
		}
	})
	defer stop()
	buf := make([]byte, 4096)
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			reply, ferr := e.Feed(buf[:n])
			if len(reply) > 0 {
				if _, werr := rw.Write(reply); werr != nil && ctx.Err() == nil {
					return fmt.Errorf("escposemu: answering: %w", werr)
				}
			}
			if ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return e.End()
			}
			return fmt.Errorf("escposemu: reading: %w", err)
		}
	}
}

// ServeTCP accepts connections on l, as a network printer's port 9100,
// and serves them one at a time until ctx ends; it closes l.
func (e *Emulator) ServeTCP(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("escposemu: %w", err)
		}
		err = e.Serve(ctx, c)
		c.Close()
		if err != nil {
			return err
		}
	}
}
