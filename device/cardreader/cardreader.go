// Package cardreader holds the interface through which the flows read
// identity cards and e-passports, and the registry of its drivers.
//
// The drivers live below: pcsc reads ICAO 9303 chips through a PC/SC
// reader (driver "pcsc"), sam reads resident ID cards through a secure
// access module (driver "sam") and sim is the simulated reader used by
// demos and tests (driver "sim").
package cardreader

import (
	"context"
	"time"

	"github.com/guichet/guichet/device"
)

// Access is what a reader may need to open a card: the MRZ data for
// ICAO 9303 Basic Access Control. It is empty for cards that need no key.
type Access struct {
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

// Reader reads the card presented on it. ReadCard blocks until a card is
// read or ctx ends.
type Reader interface {
	ReadCard(ctx context.Context, access Access) (*Card, error)
	Close() error
}

// Drivers are the card reader drivers, by name.
var Drivers = device.NewRegistry[Reader]("card reader")

// Presence is what a card reader says of itself when probed, without
// reading a card: for a self-test.
type Presence struct {
	// Reader names the reader found (its PC/SC name, serial port...).
	Reader string `json:"reader"`
	// Card reports whether a card is on the reader now.
	Card bool `json:"card"`
	// ATR is the card's answer to reset, where the reader gives it.
	ATR []byte `json:"atr,omitempty"`
}

// Prober is a Reader that can say whether it and a card are there without
// reading the card.
type Prober interface {
	Probe(ctx context.Context) (Presence, error)
}
