package pcsc

import (
	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/icao"
)

// The protocol package eid/icao owns its types and knows nothing of the
// appliance; the two functions below are the whole of the translation
// between its vocabulary and the flows'.

// toAccess turns the flows' access data into the protocol's.
func toAccess(a cardreader.Access) icao.Access {
	return icao.Access{DocumentNumber: a.DocumentNumber, BirthDate: a.BirthDate, ExpiryDate: a.ExpiryDate, CAN: a.CAN}
}

// toDevice turns the holder's data read from the chip into the card the
// flows use, of kind "icao9303".
func toDevice(h *icao.Holder) *cardreader.Card {
	return &cardreader.Card{
		Kind:           "icao9303",
		DocumentNumber: h.DocumentNumber,
		IDNumber:       h.IDNumber,
		Surname:        h.Surname,
		GivenNames:     h.GivenNames,
		Name:           h.Name,
		Sex:            h.Sex,
		Nationality:    h.Nationality,
		BirthDate:      h.BirthDate,
		ExpiryDate:     h.ExpiryDate,
		Issuer:         h.Issuer,
		Photo:          h.Photo,
		PhotoFormat:    h.PhotoFormat,
		Verified:       h.Verified,
		ReadAt:         h.ReadAt,
	}
}
