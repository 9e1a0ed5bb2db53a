package sam

import (
	"github.com/guichet/guichet/device/cardreader"
	bridge "github.com/guichet/guichet/firmware-bridge/sam"
)

// toDevice turns the card the module read into the card the flows use, of
// kind "cn-resident": the nation printed on the card goes in Nationality.
// The protocol package firmware-bridge/sam owns its types and knows nothing
// of the appliance; this is the whole of the translation.
func toDevice(c *bridge.Card) *cardreader.Card {
	return &cardreader.Card{
		Kind:        "cn-resident",
		IDNumber:    c.IDNumber,
		Name:        c.Name,
		Sex:         c.Sex,
		Nationality: c.Nation,
		BirthDate:   c.BirthDate,
		ExpiryDate:  c.ExpiryDate,
		Address:     c.Address,
		Issuer:      c.Issuer,
		Photo:       c.Photo,
		PhotoFormat: c.PhotoFormat,
		Verified:    c.Verified,
		ReadAt:      c.ReadAt,
	}
}
