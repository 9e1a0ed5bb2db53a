// Package mrz parses the machine readable zone of travel documents as laid
// down in ICAO Doc 9303 Part 3 (check digits, section 4.9), Part 4 (TD3,
// passports), Part 5 (TD1, ID cards) and Part 6 (TD2), and builds the "MRZ
// information" that Part 11 section 9.7 derives the Basic Access Control
// keys from.
package mrz

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors returned by Parse; they are wrapped with the field concerned.
var (
	ErrFormat     = errors.New("mrz: not a TD1, TD2 or TD3 machine readable zone")
	ErrCharacter  = errors.New("mrz: character outside A-Z, 0-9 and <")
	ErrCheckDigit = errors.New("mrz: check digit mismatch")
)

// Format names the three sizes of machine readable zone.
type Format string

// The formats of Doc 9303: TD1 is 3 lines of 30 characters, TD2 2 of 36 and
// TD3 (passports) 2 of 44.
const (
	TD1 Format = "TD1"
	TD2 Format = "TD2"
	TD3 Format = "TD3"
)

// Document holds the fields of a machine readable zone. Fields keep the
// filler '<' trimmed, except where noted.
type Document struct {
	Format         Format
	DocumentCode   string // "P", "I", "ID", "AC"...
	Issuer         string // three-letter code of the issuing state
	DocumentNumber string // without the check digit, fillers trimmed
	Nationality    string
	BirthDate      string // YYMMDD as printed
	Sex            string // "M", "F" or "<" for unspecified
	ExpiryDate     string // YYMMDD as printed
	Surname        string
	GivenNames     string // words separated by spaces
	OptionalData   string // personal number (TD3) or optional data, fillers trimmed
	OptionalData2  string // TD1 line 2 optional data
}

// value is the numeric value of an MRZ character for check digits
// (Part 3, 4.9): digits as themselves, A-Z as 10-35, filler as 0.
func value(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10, true
	case c == '<':
		return 0, true
	}
	return 0, false
}

// CheckDigit computes the check digit of s (Doc 9303 Part 3, section 4.9:
// weights 7, 3, 1 repeated, modulus 10).
func CheckDigit(s string) (byte, error) {
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < len(s); i++ {
		v, ok := value(s[i])
		if !ok {
			return 0, fmt.Errorf("%w: %q at %d", ErrCharacter, s[i], i)
		}
		sum += v * weights[i%3]
	}
	return byte('0' + sum%10), nil
}

func check(field, data string, digit byte) error {
	want, err := CheckDigit(data)
	if err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	// Part 3 4.9 lets an optional field without data carry '<' as its check digit.
	if digit == '<' && strings.Trim(data, "<") == "" {
		return nil
	}
	if digit != want {
		return fmt.Errorf("%w: %s has %q, computed %q", ErrCheckDigit, field, digit, want)
	}
	return nil
}

// Parse parses a machine readable zone given as its lines, separated by line
// breaks or concatenated. Surrounding spaces are ignored. Every check digit
// is verified.
func Parse(s string) (*Document, error) {
	var b strings.Builder
	for _, line := range strings.Fields(s) {
		b.WriteString(line)
	}
	z := b.String()
	for i := 0; i < len(z); i++ {
		if _, ok := value(z[i]); !ok {
			return nil, fmt.Errorf("%w: %q at %d", ErrCharacter, z[i], i)
		}
	}
	switch len(z) {
	case 88:
		return parseTD3(z)
	case 90:
		return parseTD1(z)
	case 72:
		return parseTD2(z)
	}
	return nil, fmt.Errorf("%w: %d characters", ErrFormat, len(z))
}

func trim(s string) string { return strings.TrimRight(s, "<") }

// names splits the name field "SURNAME<<GIVEN<NAMES" (Part 3, 4.6).
func names(f string) (surname, given string) {
	f = trim(f)
	sur, giv, _ := strings.Cut(f, "<<")
	sur = strings.ReplaceAll(sur, "<", " ")
	giv = strings.Join(strings.FieldsFunc(giv, func(r rune) bool { return r == '<' }), " ")
	return sur, giv
}

func parseTD3(z string) (*Document, error) {
	l1, l2 := z[:44], z[44:]
	d := &Document{Format: TD3, DocumentCode: trim(l1[0:2]), Issuer: trim(l1[2:5])}
	d.Surname, d.GivenNames = names(l1[5:44])
	d.DocumentNumber = trim(l2[0:9])
	d.Nationality = trim(l2[10:13])
	d.BirthDate = l2[13:19]
	d.Sex = l2[20:21]
	d.ExpiryDate = l2[21:27]
	d.OptionalData = trim(l2[28:42])
	for _, c := range []struct {
		field, data string
		digit       byte
	}{
		{"document number", l2[0:9], l2[9]},
		{"birth date", l2[13:19], l2[19]},
		{"expiry date", l2[21:27], l2[27]},
		{"personal number", l2[28:42], l2[42]},
		{"composite", l2[0:10] + l2[13:20] + l2[21:43], l2[43]},
	} {
		if err := check(c.field, c.data, c.digit); err != nil {
			return nil, err
		}
	}
	return d, d.checkDates()
}

func parseTD2(z string) (*Document, error) {
	l1, l2 := z[:36], z[36:]
	d := &Document{Format: TD2, DocumentCode: trim(l1[0:2]), Issuer: trim(l1[2:5])}
	d.Surname, d.GivenNames = names(l1[5:36])
	d.DocumentNumber = trim(l2[0:9])
	d.Nationality = trim(l2[10:13])
	d.BirthDate = l2[13:19]
	d.Sex = l2[20:21]
	d.ExpiryDate = l2[21:27]
	d.OptionalData = trim(l2[28:35])
	number, numberCheck := l2[0:9], l2[9]
	if numberCheck == '<' && d.OptionalData != "" {
		// Part 6 4.2.4: a number longer than 9 characters continues in
		// the optional data, followed by its check digit.
		ext := d.OptionalData
		number = d.DocumentNumber + ext[:len(ext)-1]
		numberCheck = ext[len(ext)-1]
		d.DocumentNumber = number
		d.OptionalData = ""
	}
	for _, c := range []struct {
		field, data string
		digit       byte
	}{
		{"document number", number, numberCheck},
		{"birth date", l2[13:19], l2[19]},
		{"expiry date", l2[21:27], l2[27]},
		{"composite", l2[0:10] + l2[13:20] + l2[21:35], l2[35]},
	} {
		if err := check(c.field, c.data, c.digit); err != nil {
			return nil, err
		}
	}
	return d, d.checkDates()
}

func parseTD1(z string) (*Document, error) {
	l1, l2, l3 := z[:30], z[30:60], z[60:]
	d := &Document{Format: TD1, DocumentCode: trim(l1[0:2]), Issuer: trim(l1[2:5])}
	d.DocumentNumber = trim(l1[5:14])
	d.OptionalData = trim(l1[15:30])
	d.BirthDate = l2[0:6]
	d.Sex = l2[7:8]
	d.ExpiryDate = l2[8:14]
	d.Nationality = trim(l2[15:18])
	d.OptionalData2 = trim(l2[18:29])
	d.Surname, d.GivenNames = names(l3)
	number, numberCheck := l1[5:14], l1[14]
	if numberCheck == '<' && d.OptionalData != "" {
		// Part 5 4.2.2: the remainder of a long document number and its
		// check digit open the optional data.
		ext, rest, _ := strings.Cut(l1[15:30], "<")
		if ext == "" {
			return nil, fmt.Errorf("%w: document number extension is empty", ErrFormat)
		}
		number = d.DocumentNumber + ext[:len(ext)-1]
		numberCheck = ext[len(ext)-1]
		d.DocumentNumber = number
		d.OptionalData = trim(strings.TrimLeft(rest, "<"))
	}
	for _, c := range []struct {
		field, data string
		digit       byte
	}{
		{"document number", number, numberCheck},
		{"birth date", l2[0:6], l2[6]},
		{"expiry date", l2[8:14], l2[14]},
		{"composite", l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29]},
	} {
		if err := check(c.field, c.data, c.digit); err != nil {
			return nil, err
		}
	}
	return d, d.checkDates()
}

// checkDates rejects dates that are not YYMMDD with a plausible month and
// day. Part 3 allows '<' for unknown parts of a birth date, so those pass.
func (d *Document) checkDates() error {
	for _, f := range []struct{ name, v string }{{"birth date", d.BirthDate}, {"expiry date", d.ExpiryDate}} {
		if strings.Contains(f.v, "<") {
			continue
		}
		if _, err := time.Parse("060102", f.v); err != nil {
			return fmt.Errorf("mrz: %s %q is not a date", f.name, f.v)
		}
	}
	return nil
}

// KeyInfo builds the MRZ information of Doc 9303 Part 11 section 9.7.2 from
// which Basic Access Control keys are derived: the document number padded
// with '<' to 9 characters, the birth date and the expiry date (YYMMDD),
// each followed by its check digit.
func KeyInfo(documentNumber, birthDate, expiryDate string) (string, error) {
	doc := strings.ToUpper(strings.TrimSpace(documentNumber))
	if doc == "" {
		return "", errors.New("mrz: empty document number")
	}
	for len(doc) < 9 {
		doc += "<"
	}
	var b strings.Builder
	for _, f := range []struct{ name, v string }{{"document number", doc}, {"birth date", birthDate}, {"expiry date", expiryDate}} {
		if f.name != "document number" {
			if len(f.v) != 6 {
				return "", fmt.Errorf("mrz: %s %q is not YYMMDD", f.name, f.v)
			}
			for i := 0; i < 6; i++ {
				if f.v[i] < '0' || f.v[i] > '9' {
					return "", fmt.Errorf("mrz: %s %q is not YYMMDD", f.name, f.v)
				}
			}
		}
		c, err := CheckDigit(f.v)
		if err != nil {
			return "", fmt.Errorf("%s: %w", f.name, err)
		}
		b.WriteString(f.v)
		b.WriteByte(c)
	}
	return b.String(), nil
}

// FullDate turns a YYMMDD date into YYYY-MM-DD. Doc 9303 prints two digits
// of the year, so birth dates go in the century that puts them in the past
// relative to now, and expiry dates in the one that puts them at most 50
// years ahead. A date that does not parse (one with '<' for unknown
// parts) is returned as printed.
func FullDate(yymmdd string, birth bool, now time.Time) string {
	t, err := time.Parse("060102", yymmdd)
	if err != nil {
		return yymmdd
	}
	y := t.Year()%100 + now.Year()/100*100
	if birth && y > now.Year() {
		y -= 100
	}
	if !birth && y > now.Year()+50 {
		y -= 100
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, t.Month(), t.Day())
}
