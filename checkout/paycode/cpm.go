package paycode

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// FormatCPV01 is the payload format indicator ('85') of EMV QRCPS
// Consumer-Presented Mode version 1.
const FormatCPV01 = "CPV01"

// Tags of EMV QRCPS Consumer-Presented Mode §5 (Tables 5.1-5.4) and of
// EMV Book 3 Annex A.
const (
	TagPayloadFormat      Tag = 0x85
	TagApplication        Tag = 0x61
	TagCommonData         Tag = 0x62
	TagAppTransparent     Tag = 0x63 // application specific transparent template, in '61'
	TagCommonTransparent  Tag = 0x64 // common data transparent template, in '62'
	TagADFName            Tag = 0x4F
	TagApplicationLabel   Tag = 0x50
	TagTrack2             Tag = 0x57
	TagPAN                Tag = 0x5A
	TagCardholderName     Tag = 0x5F20
	TagLanguagePreference Tag = 0x5F2D
	TagIssuerURL          Tag = 0x5F50
	TagAppVersion         Tag = 0x9F08
	TagTokenRequestorID   Tag = 0x9F19
	TagPAR                Tag = 0x9F24
	TagLast4              Tag = 0x9F25
)

// CPM is a decoded EMV consumer-presented QR payload: the customer's app
// shows it and the till scans it (EMV QRCPS Consumer-Presented Mode v1.0).
//
// It is personal data: it carries the account number and may carry the
// cardholder's name. It never goes into a log.
type CPM struct {
	// Format is the payload format indicator, '85': always FormatCPV01.
	Format string `json:"payload_format_indicator"`
	// Applications are the application templates, '61', at least one.
	Applications []Application `json:"applications"`
	// Common is the common data template, '62', or nil.
	Common *Application `json:"common_data,omitempty"`
}

// Application is the content of an application template ('61') or of the
// common data template ('62'): the data objects of EMV QRCPS CPM Table 5.3
// that are present.
type Application struct {
	// AID is the ADF name, '4F', in hexadecimal ("A0000000555555").
	AID string `json:"adf_name,omitempty"`
	// Label is the application label, '50', shown to the cashier.
	Label string `json:"application_label,omitempty"`
	// Track2 is the track 2 equivalent data, '57', as hexadecimal nibbles:
	// PAN, "D", expiry YYMM, service code, discretionary data, "F" padding.
	Track2 string `json:"track2,omitempty"`
	// PAN is the application primary account number, '5A', in digits.
	PAN string `json:"pan,omitempty"`
	// CardholderName is '5F20'.
	CardholderName string `json:"cardholder_name,omitempty"`
	// LanguagePreference is '5F2D': up to four ISO 639-1 codes ("zhen").
	LanguagePreference string `json:"language_preference,omitempty"`
	// IssuerURL is '5F50'.
	IssuerURL string `json:"issuer_url,omitempty"`
	// AppVersion is the application version number, '9F08', in hex.
	AppVersion string `json:"application_version,omitempty"`
	// TokenRequestorID is '9F19', in hexadecimal.
	TokenRequestorID string `json:"token_requestor_id,omitempty"`
	// PAR is the payment account reference, '9F24'.
	PAR string `json:"payment_account_reference,omitempty"`
	// Last4 is the last four digits of the PAN, '9F25'.
	Last4 string `json:"last4,omitempty"`
	// Transparent holds the objects of the transparent template ('63' in
	// an application template, '64' in the common data template) that
	// the issuer passes through to authorisation: cryptogram '9F26',
	// issuer application data '9F10', ATC '9F36'...
	Transparent []TLV `json:"transparent,omitempty"`
	// Other holds data objects this package does not interpret.
	Other []TLV `json:"other,omitempty"`
}

// Account returns the account number of a: the PAN, or the one in track 2
// equivalent data. It is personal data.
func (a *Application) Account() string {
	if a.PAN != "" {
		return a.PAN
	}
	pan, _, _ := strings.Cut(a.Track2, "D")
	return pan
}

// ParseCPM decodes text, the base64 of a consumer-presented payload, and
// checks it against EMV QRCPS Consumer-Presented Mode §5: payload format
// indicator '85' first and equal to "CPV01", then one or more application
// templates '61' and at most one common data template '62', nothing else;
// each template well-formed BER-TLV, each application template with an ADF
// name, and an account number (PAN '5A' or track 2 '57') somewhere.
func ParseCPM(text string) (*CPM, error) {
	if len(text) > MaxLen {
		return nil, fmt.Errorf("%d characters, more than the %d a QR code can hold", len(text), MaxLen)
	}
	raw, err := decodeBase64(text)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("empty payload")
	}
	objs, err := parseBER(raw)
	if err != nil {
		return nil, err
	}
	if objs[0].Tag != TagPayloadFormat {
		return nil, fmt.Errorf("first data object is '%s', want the payload format indicator '85'", objs[0].Tag)
	}
	c := &CPM{Format: string(objs[0].Value)}
	if c.Format != FormatCPV01 {
		return nil, fmt.Errorf("payload format indicator is %q, want %q", printable(objs[0].Value), FormatCPV01)
	}
	for _, o := range objs[1:] {
		switch o.Tag {
		case TagPayloadFormat:
			return nil, fmt.Errorf("payload format indicator '85' occurs twice")
		case TagApplication:
			if c.Common != nil {
				return nil, fmt.Errorf("application template '61' after the common data template '62'")
			}
			a, err := application(o, TagAppTransparent)
			if err != nil {
				return nil, fmt.Errorf("application template %d: %w", len(c.Applications)+1, err)
			}
			if a.AID == "" {
				return nil, fmt.Errorf("application template %d has no ADF name '4F'", len(c.Applications)+1)
			}
			c.Applications = append(c.Applications, a)
		case TagCommonData:
			if c.Common != nil {
				return nil, fmt.Errorf("common data template '62' occurs twice")
			}
			a, err := application(o, TagCommonTransparent)
			if err != nil {
				return nil, fmt.Errorf("common data template: %w", err)
			}
			c.Common = &a
		default:
			return nil, fmt.Errorf("unexpected data object '%s' at the top level (only '85', '61' and '62' may be there)", o.Tag)
		}
	}
	if len(c.Applications) == 0 {
		return nil, fmt.Errorf("no application template '61'")
	}
	if c.Account() == "" {
		return nil, fmt.Errorf("no account number: neither PAN '5A' nor track 2 equivalent data '57'")
	}
	return c, nil
}

// Account returns the first account number in c, from the application
// templates or the common data template. It is personal data.
func (c *CPM) Account() string {
	for i := range c.Applications {
		if a := c.Applications[i].Account(); a != "" {
			return a
		}
	}
	if c.Common != nil {
		return c.Common.Account()
	}
	return ""
}

// decodeBase64 decodes standard base64 (RFC 4648 §4), with padding or,
// as some wallets send it, without.
func decodeBase64(text string) ([]byte, error) {
	enc := base64.StdEncoding.Strict()
	if !strings.HasSuffix(text, "=") && len(text)%4 != 0 {
		enc = base64.RawStdEncoding.Strict()
	}
	raw, err := enc.DecodeString(text)
	if err != nil {
		if ce, ok := err.(base64.CorruptInputError); ok {
			i := int(ce)
			if i < len(text) {
				return nil, fmt.Errorf("not base64: %q at position %d", text[i], i)
			}
			return nil, fmt.Errorf("not base64: truncated at position %d", i)
		}
		return nil, fmt.Errorf("not base64: %w", err)
	}
	return raw, nil
}

// application reads the content of an application or common data
// template; transparent is the tag of its transparent template.
func application(t TLV, transparent Tag) (Application, error) {
	var a Application
	seen := map[Tag]bool{}
	for _, o := range t.Children {
		if seen[o.Tag] && o.Tag != transparent {
			return a, fmt.Errorf("data object '%s' occurs twice", o.Tag)
		}
		seen[o.Tag] = true
		var err error
		switch o.Tag {
		case TagADFName:
			if len(o.Value) < 5 || len(o.Value) > 16 {
				return a, fmt.Errorf("ADF name '4F' is %d bytes, want 5-16 (ISO/IEC 7816-4 AID)", len(o.Value))
			}
			a.AID = upperHex(o.Value)
		case TagApplicationLabel:
			a.Label, err = text(o, 1, 16)
		case TagTrack2:
			a.Track2, err = track2(o.Value)
		case TagPAN:
			a.PAN, err = digits(o, 19)
		case TagCardholderName:
			a.CardholderName, err = text(o, 2, 26)
		case TagLanguagePreference:
			a.LanguagePreference, err = text(o, 2, 8)
		case TagIssuerURL:
			a.IssuerURL, err = text(o, 1, 255)
		case TagAppVersion:
			a.AppVersion = upperHex(o.Value)
		case TagTokenRequestorID:
			a.TokenRequestorID = upperHex(o.Value)
		case TagPAR:
			a.PAR, err = text(o, 1, 29)
		case TagLast4:
			a.Last4, err = digits(o, 4)
		case transparent:
			a.Transparent = append(a.Transparent, o.Children...)
		default:
			a.Other = append(a.Other, o)
		}
		if err != nil {
			return a, err
		}
	}
	return a, nil
}

// text reads an alphanumeric special ('ans') value of lo to hi bytes.
func text(o TLV, lo, hi int) (string, error) {
	if len(o.Value) < lo || len(o.Value) > hi {
		return "", fmt.Errorf("'%s' is %d bytes, want %d-%d", o.Tag, len(o.Value), lo, hi)
	}
	for i, c := range o.Value {
		if c < 0x20 || c > 0x7E {
			return "", fmt.Errorf("'%s' has byte %#02x at %d, not printable ASCII", o.Tag, c, i)
		}
	}
	return string(o.Value), nil
}

// digits reads a compressed numeric ('cn') value: BCD digits padded at the
// end with 'F' nibbles, at most max digits.
func digits(o TLV, max int) (string, error) {
	s := upperHex(o.Value)
	s = strings.TrimRight(s, "F")
	if s == "" || len(s) > max {
		return "", fmt.Errorf("'%s' holds %d digits, want 1-%d", o.Tag, len(s), max)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		return "", fmt.Errorf("'%s' has nibble %c at %d, not a digit", o.Tag, s[i], i)
	}
	return s, nil
}

// track2 checks track 2 equivalent data (EMV Book 3 Annex A, tag '57'):
// PAN of up to 19 digits, separator 'D', expiry YYMM, service code of 3
// digits, discretionary digits, and one 'F' nibble of padding to a whole
// byte.
func track2(b []byte) (string, error) {
	s := upperHex(b)
	pan, rest, ok := strings.Cut(s, "D")
	if !ok {
		return "", fmt.Errorf("track 2 equivalent data '57' has no field separator 'D'")
	}
	if len(pan) < 1 || len(pan) > 19 || !allDigits(pan) {
		return "", fmt.Errorf("track 2 equivalent data '57': the PAN is not 1-19 digits")
	}
	rest = strings.TrimSuffix(rest, "F")
	if len(rest) < 7 || !allDigits(rest) {
		return "", fmt.Errorf("track 2 equivalent data '57': no 4-digit expiry and 3-digit service code after the separator")
	}
	if m := rest[2:4]; m < "01" || m > "12" {
		return "", fmt.Errorf("track 2 equivalent data '57': expiry month %s", m)
	}
	return s, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func upperHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// printable quotes what a value holds without letting binary junk into an
// error message.
func printable(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return upperHex(b)
}
