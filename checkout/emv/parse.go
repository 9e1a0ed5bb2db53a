package emv

import (
	"strings"
	"unicode/utf8"
)

// object is one data object as split from a payload or a template.
type object struct {
	id     string
	value  string
	off    int // character offset of the ID in the whole payload
	valOff int // character offset of the value
}

// split cuts s into data objects (§4.1). base is the character offset of s
// in the whole payload and parent the template s is the value of ("" at
// the top level), both for error messages.
func split(s string, base int, parent string) ([]object, error) {
	var (
		objs = make([]object, 0, min(20, len(s)/5+1)) // an object takes at least 5 characters
		seen [100]bool
		pos  int    // byte offset in s
		ch   = base // character offset in the payload
	)
	for pos < len(s) {
		label, where := "", "payload"
		if parent != "" {
			label, where = parent+".", "template "+parent
		}
		if rest := len(s) - pos; rest < 4 {
			return nil, errorf(ErrLength, parent, ch, "%d characters left at the end of the %s, too few for an ID and a length (truncated?)", utf8.RuneCountInString(s[pos:]), where)
		}
		id, ln := s[pos:pos+2], s[pos+2:pos+4]
		if !isDigits(id) {
			return nil, errorf(ErrSyntax, parent, ch, "ID %q is not two digits", id)
		}
		if !isDigits(ln) {
			return nil, errorf(ErrSyntax, label+id, ch, "length %q is not two digits", ln)
		}
		n := int(ln[0]-'0')*10 + int(ln[1]-'0')
		if n == 0 {
			return nil, errorf(ErrLength, label+id, ch, "length 00: a data object that is present must have a value")
		}
		start := pos + 4
		end := start
		for k := 0; k < n; k++ {
			if end >= len(s) {
				return nil, errorf(ErrLength, label+id, ch, "length %d runs past the end of the %s: %d characters left", n, where, k)
			}
			r, size := utf8.DecodeRuneInString(s[end:])
			if r == utf8.RuneError && size == 1 {
				return nil, errorf(ErrSyntax, label+id, ch, "invalid UTF-8 byte %#02x in the value", s[end])
			}
			end += size
		}
		i := int(id[0]-'0')*10 + int(id[1]-'0')
		if seen[i] {
			return nil, errorf(ErrDuplicate, label+id, ch, "ID %s occurs twice in the %s", id, where)
		}
		seen[i] = true
		objs = append(objs, object{id: id, value: s[start:end], off: ch, valOff: ch + 4})
		ch += 4 + n
		pos = end
	}
	return objs, nil
}

// Parse reads a merchant-presented payload. Leading and trailing white
// space, as a scanner may add, is ignored. It checks the structure (§4.1),
// the CRC (§4.7.3), the mandatory data objects and the format of each
// value, and returns an *Error that says what is wrong and where. It is
// lenient in one way only: free-text values (names, cities, labels) may
// exceed the specification's maximum lengths, as payloads in the field do,
// up to the 99 characters the format allows; Build is strict.
func Parse(s string) (*Payload, error) {
	return parse(s, nil)
}

// Missing names a mandatory data object that a payload leaves out.
type Missing struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// String says "52 merchant category code missing".
func (m Missing) String() string { return m.ID + " " + m.Name + " missing" }

// ParseLenient reads a payload as Parse does, except that the mandatory
// merchant data objects that national schemes' codes often leave out
// (52 merchant category code, 53 transaction currency, 58 country code,
// 59 merchant name, 60 merchant city) may be absent: it returns the
// payload and names each one missing, in ID order. Everything else is
// refused as Parse refuses it: structure, lengths, CRC, a field present
// with a bad value, and a payload with no merchant account information.
// It is for reading codes from elsewhere (`guichet emv parse`); the
// till's own codes go through Build and Parse, which stay strict.
func ParseLenient(s string) (*Payload, []Missing, error) {
	missing := []Missing{}
	p, err := parse(s, &missing)
	if err != nil {
		return nil, nil, err
	}
	return p, missing, nil
}

func parse(s string, missing *[]Missing) (*Payload, error) {
	if len(s) > MaxLen+64 {
		// Refuse before trimming, so that junk costs nothing.
		return nil, errorf(ErrTooLong, "", -1, "%d bytes, more than the %d a QR code can hold", len(s), MaxLen)
	}
	s = strings.Trim(s, " \t\r\n")
	if len(s) > MaxLen {
		return nil, errorf(ErrTooLong, "", -1, "%d bytes, more than the %d a QR code can hold", len(s), MaxLen)
	}
	if s == "" {
		return nil, errorf(ErrMissing, "00", 0, "empty payload")
	}
	objs, err := split(s, 0, "")
	if err != nil {
		return nil, err
	}
	if objs[0].id != "00" {
		return nil, errorf(ErrValue, objs[0].id, 0, "the payload starts with ID %s; the payload format indicator (00) must come first", objs[0].id)
	}
	last := objs[len(objs)-1]
	if last.id != "63" {
		for _, o := range objs {
			if o.id == "63" {
				return nil, errorf(ErrCRC, "63", o.off, "the CRC is not the last data object")
			}
		}
		return nil, errorf(ErrMissing, "63", -1, "no CRC (63) at the end of the payload")
	}
	if len(last.value) != 4 {
		return nil, errorf(ErrCRC, "63", last.off, "length %d, want 04", utf8.RuneCountInString(last.value))
	}
	got, ok := parseHex16(last.value)
	if !ok {
		return nil, errorf(ErrCRC, "63", last.off, "%q is not four hexadecimal digits", last.value)
	}
	if want := crc16String(s[:len(s)-4]); got != want {
		return nil, errorf(ErrCRC, "63", last.off, "payload says %s, computed %s", strings.ToUpper(last.value), crcText(want))
	}

	p := &Payload{CRC: last.value}
	var offsets [100]int
	for i := range offsets {
		offsets[i] = -1
	}
	for _, o := range objs {
		n, _ := idNumber(o.id)
		offsets[n] = o.off
		if err := p.set(o); err != nil {
			return nil, err
		}
	}
	if err := p.check(false, missing); err != nil {
		if n, ok := idNumber(topID(err.ID)); ok && err.Offset < 0 {
			err.Offset = offsets[n]
		}
		return nil, err
	}
	return p, nil
}

// set stores the top-level data object o in p.
func (p *Payload) set(o object) error {
	n := int(o.id[0]-'0')*10 + int(o.id[1]-'0')
	switch {
	case n == 0:
		p.FormatIndicator = o.value
	case n == 1:
		p.Initiation = o.value
	case n >= 2 && n <= 25:
		p.Accounts = append(p.Accounts, MerchantAccount{ID: o.id, Value: o.value})
	case n >= 26 && n <= 51:
		gui, fields, err := splitTemplate(o)
		if err != nil {
			return err
		}
		p.Accounts = append(p.Accounts, MerchantAccount{ID: o.id, GUI: gui, Fields: fields})
	case n == 52:
		p.MCC = o.value
	case n == 53:
		p.Currency = o.value
	case n == 54:
		p.Amount = o.value
	case n == 55:
		p.TipIndicator = o.value
	case n == 56:
		p.FeeFixed = o.value
	case n == 57:
		p.FeePercentage = o.value
	case n == 58:
		p.Country = o.value
	case n == 59:
		p.MerchantName = o.value
	case n == 60:
		p.City = o.value
	case n == 61:
		p.PostalCode = o.value
	case n == 62:
		subs, err := split(o.value, o.valOff, o.id)
		if err != nil {
			return asTemplate(err)
		}
		a := &AdditionalData{}
		for _, s := range subs {
			if f := a.field(s.id); f != nil {
				*f = s.value
			} else {
				a.Other = append(a.Other, Field{ID: s.id, Value: s.value})
			}
		}
		p.Additional = a
	case n == 63:
		// Checked by Parse.
	case n == 64:
		subs, err := split(o.value, o.valOff, o.id)
		if err != nil {
			return asTemplate(err)
		}
		l := &Language{}
		for _, s := range subs {
			switch s.id {
			case "00":
				l.Preference = s.value
			case "01":
				l.Name = s.value
			case "02":
				l.City = s.value
			default:
				l.Other = append(l.Other, Field{ID: s.id, Value: s.value})
			}
		}
		p.Language = l
	case n >= 65 && n <= 79:
		p.RFU = append(p.RFU, Field{ID: o.id, Value: o.value})
	default: // 80-99
		gui, fields, err := splitTemplate(o)
		if err != nil {
			return err
		}
		p.Unreserved = append(p.Unreserved, Template{ID: o.id, GUI: gui, Fields: fields})
	}
	return nil
}

// splitTemplate splits a template whose sub-field 00 is a globally unique
// identifier: IDs 26-51 and 80-99.
func splitTemplate(o object) (string, []Field, error) {
	subs, err := split(o.value, o.valOff, o.id)
	if err != nil {
		return "", nil, asTemplate(err)
	}
	var (
		gui    string
		fields []Field
	)
	for _, s := range subs {
		if s.id == "00" {
			gui = s.value
		} else {
			fields = append(fields, Field{ID: s.id, Value: s.value})
		}
	}
	if gui == "" {
		return "", nil, errorf(ErrTemplate, o.id, o.off, "no globally unique identifier (sub-field 00)")
	}
	return gui, fields, nil
}

// asTemplate turns an error found inside a template into ErrTemplate,
// keeping where and why.
func asTemplate(err error) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	return &Error{Kind: ErrTemplate, ID: e.ID, Offset: e.Offset, Reason: e.Kind.Error() + ": " + e.Reason}
}

// topID returns the top-level ID of "62.05", or id itself.
func topID(id string) string {
	if len(id) > 2 {
		return id[:2]
	}
	return id
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseHex16(s string) (uint16, bool) {
	var v uint16
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint16(c)
	}
	return v, true
}

// field returns the named field of a for sub-field id, or nil for the
// sub-fields kept in Other.
func (a *AdditionalData) field(id string) *string {
	switch id {
	case "01":
		return &a.BillNumber
	case "02":
		return &a.MobileNumber
	case "03":
		return &a.StoreLabel
	case "04":
		return &a.LoyaltyNumber
	case "05":
		return &a.ReferenceLabel
	case "06":
		return &a.CustomerLabel
	case "07":
		return &a.TerminalLabel
	case "08":
		return &a.Purpose
	case "09":
		return &a.ConsumerDataRequest
	case "10":
		return &a.MerchantTaxID
	case "11":
		return &a.MerchantChannel
	}
	return nil
}
