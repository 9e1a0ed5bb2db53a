package icao

import (
	"strings"
	"time"

	"github.com/guichet/guichet/eid/icao/mrz"
)

// Access is what opens a chip: the MRZ data for Basic Access Control and
// PACE (Doc 9303 Part 11 4.3 and 4.4), the card access number for PACE, or
// both. The package owns this type, as gmrtd's packages own theirs, so that
// it stands without the appliance; a driver converts it from the form the
// flows use.
type Access struct {
	DocumentNumber string // as printed in the MRZ, without the check digit
	BirthDate      string // YYMMDD
	ExpiryDate     string // YYMMDD
	// CAN is the card access number for PACE, when the chip offers it.
	CAN string
}

// Holder is the holder's data Read found, in the flat form a counter
// shows: the MRZ of DG1 (Doc 9303 Part 10 4.6.2) and the face of DG2. It is
// personal data: it never goes into a log.
type Holder struct {
	DocumentNumber string
	// IDNumber is the MRZ's optional data, which many states use for a
	// personal number.
	IDNumber    string
	Surname     string
	GivenNames  string
	Name        string // given names, then surname
	Sex         string // "M", "F", or "" when the MRZ says '<'
	Nationality string
	Issuer      string
	BirthDate   string // YYYY-MM-DD
	ExpiryDate  string // YYYY-MM-DD
	Photo       []byte
	PhotoFormat string // "jpeg" or "jp2"
	// Verified is true when passive authentication succeeded.
	Verified bool
	ReadAt   time.Time
}

// Holder turns what Read found into the holder's data. Dates become
// YYYY-MM-DD, placed in a century relative to now.
func (d *Document) Holder(now time.Time) *Holder {
	c := &Holder{Verified: d.Verified, ReadAt: now}
	if m := d.MRZ; m != nil {
		c.DocumentNumber = m.DocumentNumber
		c.IDNumber = m.OptionalData
		c.Surname = m.Surname
		c.GivenNames = m.GivenNames
		c.Name = strings.TrimSpace(m.GivenNames + " " + m.Surname)
		c.Sex = m.Sex
		if c.Sex == "<" {
			c.Sex = ""
		}
		c.Nationality = m.Nationality
		c.Issuer = m.Issuer
		c.BirthDate = mrz.FullDate(m.BirthDate, true, now)
		c.ExpiryDate = mrz.FullDate(m.ExpiryDate, false, now)
	}
	if d.Face != nil {
		c.Photo = d.Face.Data
		c.PhotoFormat = d.Face.Format
	}
	return c
}
