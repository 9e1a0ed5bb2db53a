package icao

import (
	"strings"
	"time"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/icao/mrz"
)

// Card turns what Read found into the cardreader.Card the flows use. Dates
// become YYYY-MM-DD, placed in a century relative to now.
func (d *Document) Card(now time.Time) *cardreader.Card {
	c := &cardreader.Card{Kind: "icao9303", Verified: d.Verified, ReadAt: now}
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
