// Package codereader holds the interface through which the flows receive
// barcodes and QR codes, and the registry of the drivers that read them.
//
// The drivers live below: codescan reads codes from a camera through a
// decoder (driver "camera"), scanner drives hand-held scanners (drivers
// "hid", "serial") and sim is the simulated scanner used by demos and
// tests (driver "sim").
package codereader

import (
	"context"
	"time"

	"github.com/guichet/guichet/device"
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

// Reader yields codes as they are read, from a camera and decoder or
// from a hand-held scanner. ReadCode blocks until a code is read or ctx ends.
type Reader interface {
	ReadCode(ctx context.Context) (Code, error)
	Close() error
}

// Drivers are the code reader drivers, by name.
var Drivers = device.NewRegistry[Reader]("code reader")
