// Package scanner drives hand-held barcode scanners: keyboard-wedge USB
// scanners read through Linux evdev (driver "hid"), and scanners on a serial
// line (driver "serial"). Both satisfy codereader.Reader.
//
// A scanner sends only the text of a code; the format is "UNKNOWN" unless
// the scanner is set to prefix the AIM symbology identifier (ISO/IEC
// 15424), such as "]E0" for EAN-13, which the drivers then strip and read.
package scanner

import (
	"errors"
	"strings"
	"time"

	"github.com/guichet/guichet/device/codereader"
)

// MaxCode is the longest code accepted, in bytes. A QR code holds at most
// 7089 digits; anything longer is a stuck key or line noise.
const MaxCode = 8192

// ErrTooLong is returned for input longer than MaxCode without a
// terminator; the input up to the next terminator is dropped.
var ErrTooLong = errors.New("scanner: code too long")

// aimFormats maps AIM symbology identifiers (ISO/IEC 15424 and the AIM
// Guidelines on Symbology Identifiers) to codereader.Code formats.
var aimFormats = map[string]string{
	"]C0": "CODE_128", "]C1": "CODE_128", "]C2": "CODE_128", "]C4": "CODE_128",
	"]E0": "EAN_13", "]E4": "EAN_8",
	"]Q0": "QR_CODE", "]Q1": "QR_CODE", "]Q2": "QR_CODE", "]Q3": "QR_CODE",
	"]Q4": "QR_CODE", "]Q5": "QR_CODE", "]Q6": "QR_CODE",
}

// newCode makes the code for text read by source. With aim, a leading
// symbology identifier is taken off and gives the format; UPC-A, which
// scanners send as an EAN-13 starting with 0 under "]E0", is reported as
// such (13 digits, format EAN_13), as the scanner sent it.
func newCode(text, source string, aim bool, at time.Time) codereader.Code {
	c := codereader.Code{Format: "UNKNOWN", Text: text, Source: source, At: at}
	if aim && len(text) >= 3 && text[0] == ']' {
		if f, ok := aimFormats[text[:3]]; ok {
			c.Format, c.Text = f, text[3:]
		} else {
			// An identifier we do not map: still not part of the code.
			c.Text = text[3:]
		}
	}
	c.Text = strings.TrimRight(c.Text, "\x00")
	return c
}
