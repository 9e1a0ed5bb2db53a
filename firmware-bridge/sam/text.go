package sam

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
)

// TextLen is the size of the text block of a resident ID card, and PhotoLen
// the size of its WLT photo, as the read base information command returns
// them.
const (
	TextLen  = 256
	PhotoLen = 1024
)

// LongTerm is written in the valid-to field of cards that do not expire.
const LongTerm = "长期"

// Errors about the content read from a card.
var (
	// ErrText: the text block is malformed.
	ErrText = errors.New("sam: malformed text block")
	// ErrUnsupportedCard: the card is not a resident ID card nor a residence
	// permit of the same layout.
	ErrUnsupportedCard = errors.New("sam: unsupported card type")
)

// Text is the text block of a resident ID card, field by field, as stored
// on the card: codes are not translated and dates are YYYYMMDD.
type Text struct {
	Name      string
	Sex       string // GB/T 2261.1 code: "1" male, "2" female
	Nation    string // GB 3304 code, two digits: "01" is Han
	Birth     string // YYYYMMDD
	Address   string
	IDNumber  string
	Issuer    string // issuing authority
	ValidFrom string // YYYYMMDD
	ValidTo   string // YYYYMMDD or LongTerm
	// Type is the card type mark: empty for a resident ID card, "J" for
	// the residence permit of Hong Kong, Macao and Taiwan residents, "I"
	// for the foreigner's permanent residence card (a different layout).
	Type string
}

// field is one fixed-width field of the text block, in UCS-2 characters.
type field struct {
	name  string
	width int
	get   func(*Text) *string
}

// layout is the text block of the resident ID card: 15, 1, 2, 8, 35, 18,
// 15, 8, 8 UCS-2 characters, 18 reserved. The card type mark sits in the
// reserved part, at character 124.
var layout = []field{
	{"name", 15, func(t *Text) *string { return &t.Name }},
	{"sex", 1, func(t *Text) *string { return &t.Sex }},
	{"nation", 2, func(t *Text) *string { return &t.Nation }},
	{"birth date", 8, func(t *Text) *string { return &t.Birth }},
	{"address", 35, func(t *Text) *string { return &t.Address }},
	{"ID number", 18, func(t *Text) *string { return &t.IDNumber }},
	{"issuer", 15, func(t *Text) *string { return &t.Issuer }},
	{"valid from", 8, func(t *Text) *string { return &t.ValidFrom }},
	{"valid to", 8, func(t *Text) *string { return &t.ValidTo }},
}

// typeMarkAt is the UCS-2 position of the card type mark.
const typeMarkAt = 124

// ParseText decodes a text block: UCS-2 little-endian characters in fixed
// widths, padded with spaces. It rejects a block of the wrong size, control
// characters and unpaired surrogates, and a card type whose layout differs.
// Errors name the field, never its content.
func ParseText(b []byte) (Text, error) {
	var t Text
	if len(b) != TextLen {
		return t, fmt.Errorf("%w: %d bytes, want %d", ErrText, len(b), TextLen)
	}
	units := make([]uint16, TextLen/2)
	for i := range units {
		units[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	switch mark := units[typeMarkAt]; mark {
	case 0, ' ':
	case 'J':
		t.Type = "J"
	case 'I', 'Y':
		return t, fmt.Errorf("%w: type mark %q (foreigner's permanent residence card)", ErrUnsupportedCard, rune(mark))
	default:
		return t, fmt.Errorf("%w: type mark U+%04X", ErrUnsupportedCard, mark)
	}
	pos := 0
	for _, f := range layout {
		s, err := decodeField(units[pos : pos+f.width])
		if err != nil {
			return Text{}, fmt.Errorf("%w: %s: %v", ErrText, f.name, err)
		}
		*f.get(&t) = s
		pos += f.width
	}
	return t, nil
}

func decodeField(u []uint16) (string, error) {
	for i, c := range u {
		if utf16.IsSurrogate(rune(c)) {
			// UCS-2 has no surrogates; a pair would be one in a million.
			return "", fmt.Errorf("surrogate at character %d", i+1)
		}
		if c != 0 && unicode.IsControl(rune(c)) {
			return "", fmt.Errorf("control character at %d", i+1)
		}
	}
	s := string(utf16.Decode(u))
	// Fields are padded with spaces; some modules pad with NULs.
	return strings.TrimRight(s, " \x00"), nil
}

// MarshalBinary encodes t as a 256-byte text block. It fails if a field is
// longer than its width or holds a character outside UCS-2; it does not
// check the content, so that a test can write a card with a bad ID number.
func (t Text) MarshalBinary() ([]byte, error) {
	units := make([]uint16, TextLen/2)
	for i := range units {
		units[i] = ' '
	}
	pos := 0
	for _, f := range layout {
		s := *f.get(&t)
		n := 0
		for _, r := range s {
			if r > 0xFFFF || utf16.IsSurrogate(r) {
				return nil, fmt.Errorf("sam: %s: character outside UCS-2", f.name)
			}
			if n == f.width {
				return nil, fmt.Errorf("sam: %s: longer than %d characters", f.name, f.width)
			}
			units[pos+n] = uint16(r)
			n++
		}
		pos += f.width
	}
	switch t.Type {
	case "":
	case "I", "J", "Y":
		units[typeMarkAt] = uint16(t.Type[0])
	default:
		return nil, fmt.Errorf("sam: card type mark %q unknown", t.Type)
	}
	b := make([]byte, TextLen)
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return b, nil
}
