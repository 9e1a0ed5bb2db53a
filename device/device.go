// Package device holds the small interfaces through which the flows see the
// hardware on the counter, and the registries through which drivers are
// chosen by configuration at run time.
//
// Every kind of device has a real driver and a simulated twin that satisfy
// the same interface; each driver lives in its own package below device/ and
// registers itself in init, in the manner of periph.io's host drivers. The
// daemon imports the drivers it ships and opens the ones its configuration
// names. Cameras are the exception: their frames are OpenCV matrices, so
// their interface lives in device/camera, away from code that does not link
// OpenCV.
package device

import (
	"context"
	"time"
)

// Code is one barcode or QR code read by a camera or a hand-held scanner.
type Code struct {
	// Format is the symbology, in ZXing's names: "QR_CODE", "CODE_128",
	// "EAN_13", "EAN_8", "UPC_A", or "UNKNOWN" for a keyboard-wedge scanner
	// that does not say.
	Format string `json:"format"`
	// Text is the decoded content.
	Text string `json:"text"`
	// Source names the device that read it, for the audit trail.
	Source string `json:"source,omitempty"`
	// At is when it was read.
	At time.Time `json:"at"`
}

// CodeReader yields codes as they are read, from a camera and decoder or
// from a hand-held scanner. ReadCode blocks until a code is read or ctx ends.
type CodeReader interface {
	ReadCode(ctx context.Context) (Code, error)
	Close() error
}

// CardAccess is what a reader may need to open a card: the MRZ data for
// ICAO 9303 Basic Access Control. It is empty for cards that need no key.
type CardAccess struct {
	DocumentNumber string // as printed in the MRZ, without the check digit
	BirthDate      string // YYMMDD
	ExpiryDate     string // YYMMDD
	// CAN is the card access number for PACE, when the chip offers it.
	CAN string
}

// Card is the identity data read from an ID card or an e-passport chip.
// It is personal data: it never goes into a log and is stored only
// encrypted.
type Card struct {
	Kind           string    `json:"kind" yaml:"kind"` // "icao9303", "cn-resident", "sim"
	DocumentNumber string    `json:"document_number,omitempty" yaml:"document_number"`
	IDNumber       string    `json:"id_number,omitempty" yaml:"id_number"`
	Surname        string    `json:"surname,omitempty" yaml:"surname"`
	GivenNames     string    `json:"given_names,omitempty" yaml:"given_names"`
	Name           string    `json:"name,omitempty" yaml:"name"`
	Sex            string    `json:"sex,omitempty" yaml:"sex"`
	Nationality    string    `json:"nationality,omitempty" yaml:"nationality"`
	BirthDate      string    `json:"birth_date,omitempty" yaml:"birth_date"` // YYYY-MM-DD where known, else as on the card
	ExpiryDate     string    `json:"expiry_date,omitempty" yaml:"expiry_date"`
	Address        string    `json:"address,omitempty" yaml:"address"`
	Issuer         string    `json:"issuer,omitempty" yaml:"issuer"`
	Photo          []byte    `json:"-" yaml:"-"`
	PhotoFormat    string    `json:"photo_format,omitempty" yaml:"photo_format"` // "jpeg", "jp2", "wlt", "png"
	Verified       bool      `json:"verified" yaml:"verified"`                   // passive authentication (or the SAM) vouched for the data
	ReadAt         time.Time `json:"read_at" yaml:"read_at"`
}

// CardReader reads the card presented on it. ReadCard blocks until a card is
// read or ctx ends.
type CardReader interface {
	ReadCard(ctx context.Context, access CardAccess) (*Card, error)
	Close() error
}

// Screen is what the customer-facing display shows.
type Screen struct {
	// QR is a payload to show as a QR code; empty for none.
	QR string `json:"qr,omitempty"`
	// Lines are short texts under the code (amount, shop, status).
	Lines []string `json:"lines,omitempty"`
}

// Display is the customer-facing display: a small panel on SPI or I2C, or a
// second screen rendered by the UI.
type Display interface {
	Show(ctx context.Context, s Screen) error
	Close() error
}

// Line names of the GPIO outputs and inputs the flows use.
const (
	LineLEDGreen = "led_green"
	LineLEDRed   = "led_red"
	LineBuzzer   = "buzzer"
	LineDrawer   = "drawer"
	LineTamper   = "tamper"
)

// Lines drives the counter's GPIO lines: LEDs, buzzer, cash drawer, and
// reads the tamper switch.
type Lines interface {
	// Set drives the named output line.
	Set(name string, on bool) error
	// Pulse drives the named output on for d, then off.
	Pulse(ctx context.Context, name string, d time.Duration) error
	// Get reads the named line.
	Get(name string) (bool, error)
	Close() error
}
