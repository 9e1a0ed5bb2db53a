package icao

import (
	"errors"
	"fmt"
	"strings"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/icao/mrz"
)

// ParseAccess reads the BAC data as a technician types it:
// "DOCUMENT-NUMBER,YYMMDD,YYMMDD" (birth date, then expiry date).
func ParseAccess(s string) (cardreader.Access, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return cardreader.Access{}, errors.New("icao: want DOCUMENT-NUMBER,BIRTH-YYMMDD,EXPIRY-YYMMDD")
	}
	a := cardreader.Access{
		DocumentNumber: strings.ToUpper(strings.TrimSpace(parts[0])),
		BirthDate:      strings.TrimSpace(parts[1]),
		ExpiryDate:     strings.TrimSpace(parts[2]),
	}
	// KeyInfo validates the three fields as BAC will use them.
	if _, err := mrz.KeyInfo(a.DocumentNumber, a.BirthDate, a.ExpiryDate); err != nil {
		return cardreader.Access{}, err
	}
	return a, nil
}

// AccessFromMRZ takes the BAC data from a machine readable zone: the whole
// zone (TD1, TD2 or TD3), or the second line of a passport's alone (44
// characters). Check digits are verified.
func AccessFromMRZ(s string) (cardreader.Access, error) {
	z := strings.Join(strings.Fields(strings.ToUpper(s)), "")
	if len(z) == 44 {
		for _, f := range []struct {
			name  string
			data  string
			digit byte
		}{{"document number", z[0:9], z[9]}, {"birth date", z[13:19], z[19]}, {"expiry date", z[21:27], z[27]}} {
			c, err := mrz.CheckDigit(f.data)
			if err != nil {
				return cardreader.Access{}, fmt.Errorf("MRZ line %s: %w", f.name, err)
			}
			if c != f.digit {
				return cardreader.Access{}, fmt.Errorf("%w: MRZ line %s", mrz.ErrCheckDigit, f.name)
			}
		}
		return cardreader.Access{DocumentNumber: strings.TrimRight(z[0:9], "<"), BirthDate: z[13:19], ExpiryDate: z[21:27]}, nil
	}
	d, err := mrz.Parse(z)
	if err != nil {
		return cardreader.Access{}, err
	}
	return cardreader.Access{DocumentNumber: d.DocumentNumber, BirthDate: d.BirthDate, ExpiryDate: d.ExpiryDate}, nil
}
