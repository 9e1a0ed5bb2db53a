// Package idnumber validates the 18-character citizen identification number
// of the People's Republic of China, as defined by GB 11643-1999.
//
// A number is made of a 6-digit address code (the county of first
// registration, GB/T 2260), an 8-digit birth date YYYYMMDD, a 3-digit
// sequence code whose parity gives the sex (odd for men), and a check
// character computed over the first 17 digits by ISO 7064 MOD 11-2, where
// the value 10 is written X.
//
// The numbers are personal data: the errors of this package say what is
// wrong and where, never the number itself, so that they can be logged.
package idnumber

import (
	"errors"
	"fmt"
	"time"
)

// Len is the length of a citizen identification number.
const Len = 18

// Errors returned by Parse, wrapped with details; test them with errors.Is.
var (
	ErrLength    = errors.New("idnumber: wrong length")
	ErrSyntax    = errors.New("idnumber: not 17 digits and a check character")
	ErrRegion    = errors.New("idnumber: implausible address code")
	ErrBirthDate = errors.New("idnumber: implausible birth date")
	ErrCheck     = errors.New("idnumber: check character does not match")
)

// Number is a parsed citizen identification number.
type Number struct {
	// Region is the 6-digit address code (GB/T 2260).
	Region string
	// Birth is the birth date, at midnight UTC.
	Birth time.Time
	// Sequence is the 3-digit sequence code.
	Sequence string
	// Male reports an odd sequence code (GB 11643-1999, 4.3).
	Male bool
}

// provinces holds the first two digits of the address codes of GB/T 2260:
// the provinces, autonomous regions and municipalities, plus 71 (Taiwan),
// 81 (Hong Kong), 82 (Macao) and 83, used in the residence permits of
// Taiwan residents, which carry numbers of the same form.
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true, "83": true,
}

// earliestBirth is the first birth date accepted. GB 11643-1999 itself
// gives an example born in 1880, so the bound is older than any holder.
var earliestBirth = time.Date(1850, 1, 1, 0, 0, 0, 0, time.UTC)

// weights are the ISO 7064 MOD 11-2 weights 2^(17-i) mod 11 of the first 17
// digits (GB 11643-1999, 7.2).
var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// CheckChar returns the check character, '0' to '9' or 'X', of the 17
// digits d (GB 11643-1999, 7.2: ISO 7064 MOD 11-2).
func CheckChar(d string) (byte, error) {
	if len(d) != Len-1 {
		return 0, fmt.Errorf("%w: %d characters before the check character, want %d", ErrLength, len(d), Len-1)
	}
	sum := 0
	for i := 0; i < Len-1; i++ {
		c := d[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: character %d is not a digit", ErrSyntax, i+1)
		}
		sum += int(c-'0') * weights[i]
	}
	v := (12 - sum%11) % 11
	if v == 10 {
		return 'X', nil
	}
	return byte('0' + v), nil
}

// Parse checks s and returns its parts. It rejects a wrong length, a
// character that is not a digit (or X in last place; a lower-case x is
// accepted there, as people type it), an address code outside the known
// provinces, a birth date that is not a date of the calendar, before 1850 or
// after today, and a check character that does not match.
func Parse(s string) (Number, error) {
	return parseAt(s, time.Now())
}

// Validate reports whether s is a valid citizen identification number; the
// error says why not. See Parse.
func Validate(s string) error {
	_, err := Parse(s)
	return err
}

func parseAt(s string, now time.Time) (Number, error) {
	if len(s) != Len {
		return Number{}, fmt.Errorf("%w: %d bytes, want %d", ErrLength, len(s), Len)
	}
	want, err := CheckChar(s[:Len-1])
	if err != nil {
		return Number{}, err
	}
	last := s[Len-1]
	if last == 'x' {
		last = 'X'
	}
	if (last < '0' || last > '9') && last != 'X' {
		return Number{}, fmt.Errorf("%w: character 18 is neither a digit nor X", ErrSyntax)
	}
	if !provinces[s[:2]] {
		return Number{}, fmt.Errorf("%w: no province has the first two digits", ErrRegion)
	}
	if s[2:6] == "0000" && s[:2] != "81" && s[:2] != "82" && s[:2] != "83" {
		// Only the permits of Hong Kong, Macao and Taiwan residents carry a
		// province-level code; a citizen is registered in a county.
		return Number{}, fmt.Errorf("%w: province-level code without a county", ErrRegion)
	}
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil {
		return Number{}, fmt.Errorf("%w: digits 7 to 14 are not a date", ErrBirthDate)
	}
	if birth.Before(earliestBirth) {
		return Number{}, fmt.Errorf("%w: before %d", ErrBirthDate, earliestBirth.Year())
	}
	y, m, d := now.Date()
	if birth.After(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		return Number{}, fmt.Errorf("%w: in the future", ErrBirthDate)
	}
	if last != want {
		return Number{}, ErrCheck
	}
	seq := s[14:17]
	return Number{
		Region:   s[:6],
		Birth:    birth,
		Sequence: seq,
		Male:     (seq[2]-'0')%2 == 1,
	}, nil
}
