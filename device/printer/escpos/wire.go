package escpos

import (
	"errors"
	"fmt"
	"unicode"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Control codes of ESC/POS.
const (
	LF  = 0x0a
	DLE = 0x10
	EOT = 0x04
	ESC = 0x1b
	FS  = 0x1c
	GS  = 0x1d
)

// Alignments of ESC a.
const (
	AlignLeft   = 0
	AlignCenter = 1
	AlignRight  = 2
)

// Error correction levels of a QR code (GS ( k, function 169): L, M, Q, H
// recover about 7, 15, 25 and 30 % of the symbol.
const (
	LevelL = 48 + iota
	LevelM
	LevelQ
	LevelH
)

// Drawer kick connector pins of ESC p: most drawers hang on pin 2; a
// second drawer on pin 5.
const (
	Pin2 = 0
	Pin5 = 1
)

// Status requests of DLE EOT n.
const (
	StatusPrinter = 1 // bit 2: the drawer kick connector's pin 3 (drawer open)
	StatusOffline = 2 // bit 5: stopped for paper end
	StatusError   = 3
	StatusPaper   = 4 // bits 5 and 6: paper roll end
)

// MaxQRData is the most bytes GS ( k stores for a QR code (version 40-L in
// byte mode, as the printers document it).
const MaxQRData = 7089

// AppendInit appends ESC @, which clears the print buffer and resets the
// modes (alignment, emphasis, size, Chinese mode) to their defaults.
func AppendInit(b []byte) []byte { return append(b, ESC, '@') }

// AppendAlign appends ESC a n: AlignLeft, AlignCenter or AlignRight.
func AppendAlign(b []byte, a byte) []byte { return append(b, ESC, 'a', a) }

// AppendBold appends ESC E n, emphasised (bold) printing on or off.
func AppendBold(b []byte, on bool) []byte { return append(b, ESC, 'E', bit(on)) }

// AppendSize appends GS ! n: characters w times as wide and h times as
// high as normal, each from 1 to 8.
func AppendSize(b []byte, w, h int) []byte {
	w, h = min(max(w, 1), 8), min(max(h, 1), 8)
	return append(b, GS, '!', byte(w-1)<<4|byte(h-1))
}

// AppendChinese appends FS & (Chinese character mode on), in which the
// printer reads bytes from 0x81 as GB18030 (GB2312 and GBK on older
// firmware), or FS . (off).
func AppendChinese(b []byte, on bool) []byte {
	if on {
		return append(b, FS, '&')
	}
	return append(b, FS, '.')
}

// ErrControl reports text holding a control character, which the printer
// would take for the start of a command.
var ErrControl = errors.New("escpos: control character in text")

// ErrUnprintable reports text GB18030 does not carry to the printer
// unchanged.
var ErrUnprintable = errors.New("escpos: text not printable in GB18030")

// AppendText appends s encoded for the printer: ASCII as is, anything
// else in GB18030 between FS & and FS . (the printer's Chinese mode),
// then LF, which prints the line. GB18030 encodes every Unicode
// character, and none of its multi-byte sequences holds a byte below
// 0x30, so no encoded text reads as a command; control characters in s
// are refused (ErrControl), and so is text that would not decode back
// to itself (ErrUnprintable).
func AppendText(b []byte, s string) ([]byte, error) {
	ascii := true
	for i, r := range s {
		if unicode.IsControl(r) || r == 0x7f {
			return b, fmt.Errorf("%w: %U at byte %d", ErrControl, r, i)
		}
		if r >= 0x80 {
			ascii = false
		}
	}
	if ascii {
		return append(append(b, s...), LF), nil
	}
	enc, err := simplifiedchinese.GB18030.NewEncoder().String(s)
	if err != nil {
		return b, fmt.Errorf("escpos: encoding %q in GB18030: %w", s, err)
	}
	// A few characters of the private use area share their encoding
	// with others (GB18030-2000 against 2005): the printer would print
	// another character than the one asked for.
	if back, err := simplifiedchinese.GB18030.NewDecoder().String(enc); err != nil || back != s {
		return b, fmt.Errorf("%w: %q", ErrUnprintable, s)
	}
	b = AppendChinese(b, true)
	b = append(b, enc...)
	return append(AppendChinese(b, false), LF), nil
}

// AppendFeed appends ESC d n: prints and feeds n lines.
func AppendFeed(b []byte, n byte) []byte { return append(b, ESC, 'd', n) }

// AppendQR appends the GS ( k functions that print data as a QR code:
// model 2 (function 165), module size of size dots from 1 to 16 (167),
// error correction level (169), store the data (180) and print it (181).
func AppendQR(b []byte, data []byte, size int, level byte) ([]byte, error) {
	if len(data) == 0 || len(data) > MaxQRData {
		return b, fmt.Errorf("escpos: QR code of %d bytes (1 to %d)", len(data), MaxQRData)
	}
	if level < LevelL || level > LevelH {
		return b, fmt.Errorf("escpos: QR error correction level %d", level)
	}
	size = min(max(size, 1), 16)
	b = gsk(b, 'A', '2', 0)                          // model 2
	b = gsk(b, 'C', byte(size))                      // module size
	b = gsk(b, 'E', level)                           // error correction
	b = gsk(b, 'P', append([]byte{'0'}, data...)...) // store
	return gsk(b, 'Q', '0'), nil                     // print
}

// gsk appends GS ( k pL pH cn fn params, for a QR code (cn 49).
func gsk(b []byte, fn byte, params ...byte) []byte {
	n := len(params) + 2
	b = append(b, GS, '(', 'k', byte(n), byte(n>>8), '1', fn)
	return append(b, params...)
}

// Cuts of GS V.
const (
	CutFull    = 65 // feed to the cutter, then cut through
	CutPartial = 66 // feed to the cutter, then cut leaving a hinge
)

// AppendCut appends GS V m n: feeds the paper by n dots past the cutter's
// position and cuts, fully or partially (CutFull, CutPartial).
func AppendCut(b []byte, m byte, n byte) []byte { return append(b, GS, 'V', m, n) }

// AppendKick appends ESC p m t1 t2: a pulse on drawer kick connector pin
// (Pin2, Pin5) on for on milliseconds and off for off, each rounded to
// the printer's 2 ms unit and at most 510 ms.
func AppendKick(b []byte, pin byte, on, off int) []byte {
	unit := func(ms int) byte { return byte(min(max(ms/2, 1), 255)) }
	return append(b, ESC, 'p', pin, unit(on), unit(off))
}

// AppendStatus appends DLE EOT n, a real-time status request: the printer
// answers one byte at once, even while it is busy or out of paper.
func AppendStatus(b []byte, n byte) []byte { return append(b, DLE, EOT, n) }

// Status is what the printer reports of itself.
type Status struct {
	PaperOut   bool
	DrawerOpen bool
}

// ParseStatus reads the answer to DLE EOT n: bits 1 and 4 are set and
// bits 0 and 7 clear in every answer, which tells one from stray bytes.
func ParseStatus(n, reply byte) (Status, error) {
	if reply&0x93 != 0x12 {
		return Status{}, fmt.Errorf("escpos: status %d: reply %#02x is not a status byte", n, reply)
	}
	switch n {
	case StatusPrinter:
		// Pin 3 high: the drawer's switch reads open on most drawers.
		return Status{DrawerOpen: reply&0x04 != 0}, nil
	case StatusOffline:
		return Status{PaperOut: reply&0x20 != 0}, nil
	case StatusPaper:
		return Status{PaperOut: reply&0x60 == 0x60}, nil
	}
	return Status{}, fmt.Errorf("escpos: status request %d not read here", n)
}

func bit(on bool) byte {
	if on {
		return 1
	}
	return 0
}
