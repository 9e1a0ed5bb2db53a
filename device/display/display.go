// Package display holds the interface through which the flows show codes
// and short texts to the customer, and the registry of its drivers.
//
// The drivers live below: ssd1306 drives a small OLED panel (driver
// "ssd1306") and sim keeps the screen in memory for the web UI's customer
// page, demos and tests (driver "sim"). Package render draws a Screen
// into an image for panel drivers.
package display

import (
	"context"

	"github.com/guichet/guichet/device"
)

// Screen is what the customer-facing display shows.
type Screen struct {
	// QR is a payload to show as a QR code; empty for none.
	QR string `json:"qr,omitempty"`
	// Lines are short texts under the code (amount, shop, status).
	Lines []string `json:"lines,omitempty"`
	// Status is a key the customer page translates (approved, qr_paid,
	// ...: see ui/assets/i18n.js); a text panel shows it as it is, after
	// the lines.
	Status string `json:"status,omitempty"`
}

// Text returns the lines a text panel shows: Lines, then Status.
func (s Screen) Text() []string {
	if s.Status == "" {
		return s.Lines
	}
	return append(append([]string(nil), s.Lines...), s.Status)
}

// Display is the customer-facing display: a small panel on SPI or I2C, or a
// second screen rendered by the UI.
type Display interface {
	Show(ctx context.Context, s Screen) error
	Close() error
}

// Drivers are the display drivers, by name.
var Drivers = device.NewRegistry[Display]("display")
