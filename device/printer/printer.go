// Package printer holds the interface through which the flows print
// receipts and open the cash drawer, the document a receipt is printed
// from, and the registry of its drivers.
//
// The drivers live below: escpos drives an ESC/POS thermal receipt
// printer on a serial line, a USB serial adapter, a USB printer-class
// device or TCP port 9100 (driver "escpos"), and sim keeps the slips in
// memory for demos and tests (driver "sim"). A Document says what to
// print, not how: each driver lays it out to its paper's width.
package printer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/guichet/guichet/device"
)

// Printer is a receipt printer, with the cash drawer that hangs on it.
type Printer interface {
	// Print prints d and cuts the paper after it.
	Print(ctx context.Context, d Document) error
	// OpenDrawer pulses the cash drawer's solenoid.
	OpenDrawer(ctx context.Context) error
	Close() error
}

// Drivers are the printer drivers, by name.
var Drivers = device.NewRegistry[Printer]("printer")

// Align places a line across the paper.
type Align uint8

// The alignments of a line.
const (
	Left Align = iota
	Center
	Right
)

// Line is one line of a Document: text, or a QR code when QR is set.
type Line struct {
	// Text is printed as is, in any script: the drivers encode it for
	// the printer (ESC/POS: GB18030 in the printer's Chinese mode).
	Text string `json:"text,omitempty"`
	// Right is printed flush right on the same line as Text, such as an
	// amount beside its label; Align is then ignored.
	Right string `json:"right,omitempty"`
	Align Align  `json:"align,omitempty"`
	Bold  bool   `json:"bold,omitempty"`
	// Big doubles the characters' width and height, for the shop's name
	// and the total.
	Big bool `json:"big,omitempty"`
	// QR is a payload printed as a QR code, centred, instead of text.
	QR string `json:"qr,omitempty"`
}

// Document is what a receipt is printed from: its lines, top to bottom.
// The paper is cut after the last.
type Document struct {
	Lines []Line `json:"lines"`
}

// Limits on a Document, so that a runaway caller cannot print metres of
// paper or a QR code no phone reads.
const (
	MaxLines = 200
	MaxText  = 256 // bytes of one line's Text and Right together
	MaxQR    = 512 // bytes of a QR payload: a receipt carries a reference, not data
)

// ErrInvalid reports a Document a printer refuses before printing anything.
var ErrInvalid = errors.New("printer: invalid document")

// Validate checks the limits above, that every text is valid UTF-8 and
// that no text holds a control character, which a printer could take for
// a command (an ESC p in a shop's name would open the drawer).
func (d Document) Validate() error {
	if len(d.Lines) > MaxLines {
		return fmt.Errorf("%w: %d lines, at most %d", ErrInvalid, len(d.Lines), MaxLines)
	}
	for i, l := range d.Lines {
		if l.Align > Right {
			return fmt.Errorf("%w: line %d: alignment %d", ErrInvalid, i, l.Align)
		}
		if l.QR != "" {
			if l.Text != "" || l.Right != "" {
				return fmt.Errorf("%w: line %d: both a QR code and text", ErrInvalid, i)
			}
			if len(l.QR) > MaxQR || !utf8.ValidString(l.QR) {
				return fmt.Errorf("%w: line %d: QR payload of %d bytes, or not UTF-8", ErrInvalid, i, len(l.QR))
			}
			continue
		}
		if len(l.Text)+len(l.Right) > MaxText {
			return fmt.Errorf("%w: line %d: %d bytes of text, at most %d", ErrInvalid, i, len(l.Text)+len(l.Right), MaxText)
		}
		for _, s := range []string{l.Text, l.Right} {
			if !utf8.ValidString(s) {
				return fmt.Errorf("%w: line %d: not UTF-8", ErrInvalid, i)
			}
			if j := strings.IndexFunc(s, unicode.IsControl); j >= 0 {
				return fmt.Errorf("%w: line %d: control character at byte %d", ErrInvalid, i, j)
			}
		}
	}
	return nil
}

// Width returns the columns s takes on a receipt printer with a Chinese
// font: one for an ASCII character (12x24 dots in font A), two for any
// other, which the printer's Chinese mode prints as a double-byte
// character in a 24x24 cell, even an é or a ×.
func Width(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x80 {
			n++
		}
	}
	return n
}

// Layout returns the text of l as printed on paper cols columns wide at
// its size (a Big line has half as many): Right flush right after Text,
// or Text placed by Align. Text that does not fit is wrapped at cols, as
// the printer itself would; Right is never cut, being most often an
// amount. A QR line has no text layout and returns nil.
func Layout(l Line, cols int) []string {
	if l.QR != "" {
		return nil
	}
	if l.Big {
		cols /= 2
	}
	cols = max(cols, 1)
	if l.Right != "" {
		rw := Width(l.Right)
		lines := wrap(l.Text, max(cols-rw-1, 1))
		last := lines[len(lines)-1]
		pad := cols - Width(last) - rw
		if pad < 1 {
			lines = append(lines, strings.Repeat(" ", max(cols-rw, 0))+l.Right)
		} else {
			lines[len(lines)-1] = last + strings.Repeat(" ", pad) + l.Right
		}
		return lines
	}
	lines := wrap(l.Text, cols)
	for i, s := range lines {
		// Alignment is the printer's job (ESC a); the layout pads only
		// to show the slip as text.
		switch gap := cols - Width(s); {
		case l.Align == Center && gap > 1:
			lines[i] = strings.Repeat(" ", gap/2) + s
		case l.Align == Right && gap > 0:
			lines[i] = strings.Repeat(" ", gap) + s
		}
	}
	return lines
}

// wrap cuts s into lines at most cols columns wide; it returns at least
// one line.
func wrap(s string, cols int) []string {
	var lines []string
	var cur strings.Builder
	w := 0
	for _, r := range s {
		rw := Width(string(r))
		if w+rw > cols && w > 0 {
			lines = append(lines, cur.String())
			cur.Reset()
			w = 0
		}
		cur.WriteRune(r)
		w += rw
	}
	return append(lines, cur.String())
}

// Text returns d laid out as plain text cols columns wide, a QR code
// shown as "[QR payload]": how the simulated printer and the UI show a
// slip.
func (d Document) Text(cols int) string {
	var b strings.Builder
	for _, l := range d.Lines {
		if l.QR != "" {
			b.WriteString("[QR " + l.QR + "]\n")
			continue
		}
		for _, s := range Layout(l, cols) {
			b.WriteString(s + "\n")
		}
	}
	return b.String()
}
