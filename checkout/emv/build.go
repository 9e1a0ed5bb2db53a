package emv

import (
	"strings"
	"unicode/utf8"
)

// Build checks p and returns its payload text, ending with the CRC (ID 63).
// Data objects are written in the order of Payload's fields; the accounts,
// RFU objects, unreserved templates and the sub-fields kept in Other are
// written in the order given. Empty optional fields and an empty
// AdditionalData are left out. p.CRC is ignored.
func (p Payload) Build() (string, error) {
	if p.FormatIndicator == "" {
		p.FormatIndicator = "01"
	}
	if err := p.check(true, nil); err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(256)
	put(&b, "00", p.FormatIndicator)
	put(&b, "01", p.Initiation)
	for _, a := range p.Accounts {
		if a.Value != "" {
			put(&b, a.ID, a.Value)
		} else {
			put(&b, a.ID, guiTemplate(a.GUI, a.Fields))
		}
	}
	put(&b, "52", p.MCC)
	put(&b, "53", p.Currency)
	put(&b, "54", p.Amount)
	put(&b, "55", p.TipIndicator)
	put(&b, "56", p.FeeFixed)
	put(&b, "57", p.FeePercentage)
	put(&b, "58", p.Country)
	put(&b, "59", p.MerchantName)
	put(&b, "60", p.City)
	put(&b, "61", p.PostalCode)
	if p.Additional != nil {
		put(&b, "62", p.Additional.encode())
	}
	if p.Language != nil {
		put(&b, "64", p.Language.encode())
	}
	for _, f := range p.RFU {
		put(&b, f.ID, f.Value)
	}
	for _, t := range p.Unreserved {
		put(&b, t.ID, guiTemplate(t.GUI, t.Fields))
	}
	b.WriteString("6304")
	s := b.String()
	s += crcText(crc16String(s))
	if len(s) > MaxLen {
		return "", errorf(ErrTooLong, "", -1, "%d bytes, more than the %d a QR code can hold", len(s), MaxLen)
	}
	return s, nil
}

// put writes one data object; an empty value is left out.
func put(b *strings.Builder, id, v string) {
	if v == "" {
		return
	}
	n := utf8.RuneCountInString(v)
	b.WriteString(id)
	b.WriteByte(byte('0' + n/10))
	b.WriteByte(byte('0' + n%10))
	b.WriteString(v)
}

func guiTemplate(gui string, fields []Field) string {
	var b strings.Builder
	put(&b, "00", gui)
	for _, f := range fields {
		put(&b, f.ID, f.Value)
	}
	return b.String()
}

func (a *AdditionalData) encode() string {
	var b strings.Builder
	for i := 1; i <= 11; i++ {
		id := twoDigits(i)
		put(&b, id, *a.field(id))
	}
	for _, f := range a.Other {
		put(&b, f.ID, f.Value)
	}
	return b.String()
}

func (l *Language) encode() string {
	var b strings.Builder
	put(&b, "00", l.Preference)
	put(&b, "01", l.Name)
	put(&b, "02", l.City)
	for _, f := range l.Other {
		put(&b, f.ID, f.Value)
	}
	return b.String()
}

func twoDigits(i int) string {
	return string([]byte{byte('0' + i/10), byte('0' + i%10)})
}

// check validates the values of p against §4.7 and §4.8; Parse has already
// checked the structure, Build has not. Unless strict, the specification's
// maximum lengths of free-text fields (names, labels, identifiers) are not
// enforced beyond the 99 characters any value can have: Parse reads what
// wallets in the field accept, Build writes only what the specification
// allows.
//
// With missing not nil (ParseLenient), a mandatory merchant data object
// that is absent (52, 53, 58, 59, 60) is appended to *missing instead of
// failing the check; one that is present is checked as always.
func (p *Payload) check(strict bool, missing *[]Missing) *Error {
	absent := func(id, v string) bool {
		if v != "" || missing == nil {
			return false
		}
		*missing = append(*missing, Missing{ID: id, Name: names[id]})
		return true
	}
	lim := func(n int) int {
		if strict {
			return n
		}
		return 99
	}
	if p.FormatIndicator != "01" {
		return errorf(ErrValue, "00", -1, "payload format indicator %q, want \"01\"", p.FormatIndicator)
	}
	switch p.Initiation {
	case "", Static, Dynamic:
	default:
		return errorf(ErrValue, "01", -1, "point of initiation method %q, want 11 (static) or 12 (dynamic)", p.Initiation)
	}

	if len(p.Accounts) == 0 {
		return errorf(ErrMissing, "", -1, "no merchant account information (IDs 02-51)")
	}
	var seen [100]bool
	for _, a := range p.Accounts {
		n, ok := idNumber(a.ID)
		if !ok || n < 2 || n > 51 {
			return errorf(ErrValue, a.ID, -1, "merchant account information ID %q is not in 02-51", a.ID)
		}
		if seen[n] {
			return errorf(ErrDuplicate, a.ID, -1, "merchant account information %s given twice", a.ID)
		}
		seen[n] = true
		if n <= 25 {
			if a.GUI != "" || len(a.Fields) > 0 {
				return errorf(ErrValue, a.ID, -1, "IDs 02-25 hold one primitive value, not a template with a GUI")
			}
			if a.Value == "" {
				return errorf(ErrMissing, a.ID, -1, "empty merchant account information")
			}
			if err := checkText(a.ID, a.Value, 99); err != nil {
				return err
			}
			continue
		}
		if a.Value != "" {
			return errorf(ErrValue, a.ID, -1, "IDs 26-51 are templates: set GUI and Fields, not Value")
		}
		if err := checkGUITemplate(a.ID, a.GUI, a.Fields, lim(32), strict); err != nil {
			return err
		}
	}

	if !absent("52", p.MCC) {
		if err := checkDigits("52", p.MCC, 4); err != nil {
			return err
		}
	}
	if !absent("53", p.Currency) {
		if err := checkDigits("53", p.Currency, 3); err != nil {
			return err
		}
	}
	if p.Amount != "" {
		if err := checkAmount("54", p.Amount, 13); err != nil {
			return err
		}
	}
	switch p.TipIndicator {
	case "", PromptTip, FixedFee, PercentageFee:
	default:
		return errorf(ErrValue, "55", -1, "tip or convenience indicator %q, want 01, 02 or 03", p.TipIndicator)
	}
	if (p.TipIndicator == FixedFee) != (p.FeeFixed != "") {
		if p.FeeFixed == "" {
			return errorf(ErrMissing, "56", -1, "indicator 55 is 02 (fixed convenience fee) but no fee (56) is given")
		}
		return errorf(ErrValue, "56", -1, "a fixed convenience fee (56) needs indicator 55 to be 02, not %q", p.TipIndicator)
	}
	if p.FeeFixed != "" {
		if err := checkAmount("56", p.FeeFixed, 13); err != nil {
			return err
		}
	}
	if (p.TipIndicator == PercentageFee) != (p.FeePercentage != "") {
		if p.FeePercentage == "" {
			return errorf(ErrMissing, "57", -1, "indicator 55 is 03 (percentage convenience fee) but no percentage (57) is given")
		}
		return errorf(ErrValue, "57", -1, "a percentage convenience fee (57) needs indicator 55 to be 03, not %q", p.TipIndicator)
	}
	if p.FeePercentage != "" {
		if err := checkAmount("57", p.FeePercentage, 5); err != nil {
			return err
		}
	}
	if !absent("58", p.Country) {
		if p.Country == "" {
			return errorf(ErrMissing, "58", -1, "no country code")
		}
		if len(p.Country) != 2 || !isUpper(p.Country[0]) || !isUpper(p.Country[1]) {
			return errorf(ErrValue, "58", -1, "country code %q is not two upper-case letters (ISO 3166-1 alpha-2)", p.Country)
		}
	}
	if !absent("59", p.MerchantName) {
		if err := checkMandatory("59", p.MerchantName, lim(25)); err != nil {
			return err
		}
	}
	if !absent("60", p.City) {
		if err := checkMandatory("60", p.City, lim(15)); err != nil {
			return err
		}
	}
	if err := checkText("61", p.PostalCode, lim(10)); err != nil {
		return err
	}
	if a := p.Additional; a != nil {
		if err := a.check(strict); err != nil {
			return err
		}
	}
	if l := p.Language; l != nil {
		if err := l.check(strict); err != nil {
			return err
		}
	}
	for _, f := range p.RFU {
		n, ok := idNumber(f.ID)
		if !ok || n < 65 || n > 79 {
			return errorf(ErrValue, f.ID, -1, "RFU ID %q is not in 65-79", f.ID)
		}
		if seen[n] {
			return errorf(ErrDuplicate, f.ID, -1, "ID %s given twice", f.ID)
		}
		seen[n] = true
		if err := checkMandatory(f.ID, f.Value, 99); err != nil {
			return err
		}
	}
	for _, t := range p.Unreserved {
		n, ok := idNumber(t.ID)
		if !ok || n < 80 || n > 99 {
			return errorf(ErrValue, t.ID, -1, "unreserved template ID %q is not in 80-99", t.ID)
		}
		if seen[n] {
			return errorf(ErrDuplicate, t.ID, -1, "unreserved template %s given twice", t.ID)
		}
		seen[n] = true
		if err := checkGUITemplate(t.ID, t.GUI, t.Fields, lim(32), strict); err != nil {
			return err
		}
	}
	return nil
}

// checkGUITemplate checks a template of IDs 26-51 or 80-99.
func checkGUITemplate(id, gui string, fields []Field, maxGUI int, strict bool) *Error {
	if gui == "" {
		return errorf(ErrTemplate, id, -1, "no globally unique identifier (sub-field 00)")
	}
	if err := checkText(id+".00", gui, maxGUI); err != nil {
		return err
	}
	if err := checkSubFields(id, fields, 1, 99, nil); err != nil {
		return err
	}
	if !strict {
		return nil // Parse read it from at most 99 characters
	}
	return checkTemplateLen(id, guiTemplate(gui, fields))
}

// checkSubFields checks fields against IDs lo-hi, each unique and not
// taken[id].
func checkSubFields(parent string, fields []Field, lo, hi int, taken func(string) bool) *Error {
	var seen [100]bool
	for _, f := range fields {
		n, ok := idNumber(f.ID)
		if !ok || n < lo || n > hi {
			return errorf(ErrTemplate, parent, -1, "sub-field ID %q is not in %02d-%02d", f.ID, lo, hi)
		}
		if seen[n] || (taken != nil && taken(f.ID)) {
			return errorf(ErrTemplate, parent+"."+f.ID, -1, "sub-field %s given twice", f.ID)
		}
		seen[n] = true
		if err := checkMandatory(parent+"."+f.ID, f.Value, 99); err != nil {
			return err
		}
	}
	return nil
}

func checkTemplateLen(id, enc string) *Error {
	if n := utf8.RuneCountInString(enc); n > 99 {
		return errorf(ErrLength, id, -1, "the template's content is %d characters, at most 99", n)
	}
	return nil
}

func (a *AdditionalData) check(strict bool) *Error {
	limits := [...]int{1: 25, 25, 25, 25, 25, 25, 25, 25, 3, 20, 3}
	for i := 1; i <= 11; i++ {
		id := twoDigits(i)
		max := 99
		if strict || i >= 9 {
			max = limits[i]
		}
		if err := checkText("62."+id, *a.field(id), max); err != nil {
			return err
		}
	}
	if r := a.ConsumerDataRequest; r != "" {
		for i := 0; i < len(r); i++ {
			if !strings.ContainsRune("AME", rune(r[i])) || strings.IndexByte(r[:i], r[i]) >= 0 {
				return errorf(ErrValue, "62.09", -1, "consumer data request %q is not a set of A, M and E", r)
			}
		}
	}
	if c := a.MerchantChannel; c != "" && utf8.RuneCountInString(c) != 3 {
		return errorf(ErrLength, "62.11", -1, "merchant channel %q is not 3 characters", c)
	}
	if err := checkSubFields("62", a.Other, 0, 99, func(id string) bool { return a.field(id) != nil }); err != nil {
		return err
	}
	if !strict {
		return nil
	}
	return checkTemplateLen("62", a.encode())
}

func (l *Language) check(strict bool) *Error {
	lim := func(n int) int {
		if strict {
			return n
		}
		return 99
	}
	if len(l.Preference) != 2 || !isLetter(l.Preference[0]) || !isLetter(l.Preference[1]) {
		if l.Preference == "" {
			return errorf(ErrTemplate, "64.00", -1, "no language preference (sub-field 00)")
		}
		return errorf(ErrValue, "64.00", -1, "language preference %q is not two letters (ISO 639-1)", l.Preference)
	}
	if l.Name == "" {
		return errorf(ErrTemplate, "64.01", -1, "no alternate merchant name (sub-field 01)")
	}
	if err := checkText("64.01", l.Name, lim(25)); err != nil {
		return err
	}
	if err := checkText("64.02", l.City, lim(15)); err != nil {
		return err
	}
	if err := checkSubFields("64", l.Other, 3, 99, nil); err != nil {
		return err
	}
	if !strict {
		return nil
	}
	return checkTemplateLen("64", l.encode())
}

// checkText checks that v is UTF-8 without control characters and at most
// max characters long.
func checkText(id, v string, max int) *Error {
	if !utf8.ValidString(v) {
		return errorf(ErrSyntax, id, -1, "value is not UTF-8")
	}
	n := 0
	for _, r := range v {
		if r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0) {
			return errorf(ErrValue, id, -1, "control character %U in the value", r)
		}
		n++
	}
	if n > max {
		return errorf(ErrLength, id, -1, "%d characters, at most %d", n, max)
	}
	return nil
}

func checkMandatory(id, v string, max int) *Error {
	if v == "" {
		if name, ok := names[id]; ok {
			return errorf(ErrMissing, id, -1, "no %s", name)
		}
		return errorf(ErrMissing, id, -1, "empty value")
	}
	return checkText(id, v, max)
}

func checkDigits(id, v string, n int) *Error {
	if v == "" {
		return errorf(ErrMissing, id, -1, "no %s", names[id])
	}
	if len(v) != n || !isDigits(v) {
		return errorf(ErrValue, id, -1, "%s %q is not %d digits", names[id], v, n)
	}
	return nil
}

// checkAmount checks an amount (§4.7.7): digits with at most one "." as
// decimal mark, which may end it, at least one digit before it.
func checkAmount(id, v string, max int) *Error {
	if len(v) > max {
		return errorf(ErrLength, id, -1, "%s %q is %d characters, at most %d", names[id], v, len(v), max)
	}
	whole, frac, _ := strings.Cut(v, ".")
	if !isDigits(whole) || (frac != "" && !isDigits(frac)) {
		return errorf(ErrValue, id, -1, "%s %q is not digits with an optional \".\" decimal mark", names[id], v)
	}
	return nil
}

// idNumber returns the number of a two-digit ID.
func idNumber(id string) (int, bool) {
	if len(id) != 2 || !isDigits(id) {
		return 0, false
	}
	return int(id[0]-'0')*10 + int(id[1]-'0'), true
}

func isUpper(c byte) bool  { return c >= 'A' && c <= 'Z' }
func isLetter(c byte) bool { return isUpper(c) || (c >= 'a' && c <= 'z') }
