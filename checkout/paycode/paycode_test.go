package paycode

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The examples of EMV QRCPS Consumer-Presented Mode v1.0 (Annex A): one
// application with track 2 equivalent data, and two applications with a
// common data template holding PAN, name, language and a transparent
// template with the cryptogram.
const (
	cpmExample1 = "hQVDUFYwMWEaTwegAAAAVVVVVw8SNFZ4kBI0WNGRIgESNF8="
	cpmExample2 = "hQVDUFYwMWETTwegAAAAVVVVUAhQcm9kdWN0MWETTwegAAAAZmZmUAhQcm9kdWN0MmJJWggSNFZ4kBI0WF8gDkNBUkRIT0xERVIvRU1WXy0IcnVlc2RlZW5kIZ8QBwYBCgMAAACfJghYT9OF+iNLzJ82AgABnzcEbVjvEw=="
	// A payload of a Japanese wallet (Merpay), as published in the tests
	// of github.com/kenmaz/JPQRReader.
	cpmMerpay = "hQVDUFYwMWEfTwigAAAAZQOSAlcTMViZAHkkKUPUkSEhAAAFEgAADw=="
)

// b64 encodes the hexadecimal BER-TLV h, with spaces for legibility.
func b64(h string) string {
	b, err := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

const pfi = "85 05 435056 3031" // '85' "CPV01"

func TestClassifyDigits(t *testing.T) {
	cases := []struct {
		in     string
		scheme Scheme
		valid  bool
		reason string
	}{
		{"134567890123456789", WeChatPay, true, ""},
		{"104567890123456789", WeChatPay, true, ""},
		{"154567890123456789", WeChatPay, true, ""},
		{"13456789012345678", WeChatPay, false, "17 digits; WeChat Pay codes (prefix 10-15) have 18"},
		{"1345678901234567890", WeChatPay, false, "19 digits"},
		{"2812345678901234", Alipay, true, ""},
		{"250000000000000000", Alipay, true, ""},
		{"301234567890123456789012", Alipay, true, ""},
		{"281234567890123", Alipay, false, "15 digits; Alipay codes (prefix 25-30) have 16 to 24"},
		{"3012345678901234567890123", Alipay, false, "25 digits"},
		{"6212345678901234567", UnionPay, true, ""},
		{"6212345678901234568", UnionPay, true, ""}, // no Luhn check: both pass
		{"621234567890123456", UnionPay, false, "18 digits; UnionPay codes (prefix 62) have 19"},
		{"164567890123456789", Unknown, false, "prefix 16 belongs to no scheme"},
		{"094567890123456789", Unknown, false, "prefix 09 belongs to no scheme"},
		{"314567890123456789", Unknown, false, "prefix 31"},
		{"6312345678901234567", Unknown, false, "prefix 63"},
		{"1", Unknown, false, "1 digit, too short"},
		{" 134567890123456789\r\n", WeChatPay, true, ""},
		{"\t2812345678901234\n", Alipay, true, ""},
		{"1345 6789 0123 4567 89", Unknown, false, `character ' ' at position 4 is not a digit`},
		{"13456789012345678X", Unknown, false, `character 'X' at position 17`},
		{"１３４５６７８９０１２３４５６７８９", Unknown, false, "neither all digits"}, // full-width digits
		{"", Unknown, false, "empty code"},
		{" \r\n\t", Unknown, false, "empty code"},
		{"00020101021126190015com.guichet.pay", Unknown, false, "merchant-presented EMV QR code"},
		{"https://qr.alipay.com/bax01234", Unknown, false, "a URL"},
		{"HTTPS://WXP.QQ.COM/X", Unknown, false, "a URL"},
		{"hello", Unknown, false, "neither all digits"},
		{"\x00\x01\x02", Unknown, false, "neither all digits"},
		{strings.Repeat("1", MaxLen+1), Unknown, false, "more than the 2953"},
		{strings.Repeat("junk\x00\xff", 10<<20/6), Unknown, false, "more than the 2953"},
		{strings.Repeat("1", 10<<20), Unknown, false, "more than the 2953"},
		{strings.Repeat(" ", 10<<20) + "134567890123456789", Unknown, false, "more than the 2953"},
	}
	for _, c := range cases {
		name := c.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			code, err := Classify(c.in)
			if code.Scheme != c.scheme {
				t.Errorf("scheme %q, want %q", code.Scheme, c.scheme)
			}
			if c.valid {
				if err != nil {
					t.Fatalf("Classify: %v", err)
				}
				if code.Text != strings.TrimSpace(c.in) {
					t.Fatalf("Text %q, want the trimmed code", code.Text)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Classify = %v, want an *Error", err)
			}
			if e.Scheme != c.scheme || !strings.Contains(e.Reason, c.reason) {
				t.Fatalf("error %q (scheme %s), want %s saying %q", err, e.Scheme, c.scheme, c.reason)
			}
		})
	}
}

func TestClassifyCPMExamples(t *testing.T) {
	code, err := Classify(cpmExample1 + "\n")
	if err != nil {
		t.Fatal(err)
	}
	want1 := &CPM{Format: "CPV01", Applications: []Application{{
		AID:    "A0000000555555",
		Track2: "1234567890123458D191220112345F",
	}}}
	if code.Scheme != EMVCPM || !reflect.DeepEqual(code.CPM, want1) {
		t.Fatalf("example 1 = %s %+v", code.Scheme, code.CPM)
	}
	if a := code.CPM.Account(); a != "1234567890123458" {
		t.Fatalf("Account() = %q", a)
	}

	code, err = Classify(cpmExample2)
	if err != nil {
		t.Fatal(err)
	}
	want2 := &CPM{
		Format: "CPV01",
		Applications: []Application{
			{AID: "A0000000555555", Label: "Product1"},
			{AID: "A0000000666666", Label: "Product2"},
		},
		Common: &Application{
			PAN:                "1234567890123458",
			CardholderName:     "CARDHOLDER/EMV",
			LanguagePreference: "ruesdeen",
			Transparent: []TLV{
				{Tag: 0x9F10, Value: mustHex("06010A03000000")},
				{Tag: 0x9F26, Value: mustHex("584FD385FA234BCC")},
				{Tag: 0x9F36, Value: mustHex("0001")},
				{Tag: 0x9F37, Value: mustHex("6D58EF13")},
			},
		},
	}
	if !reflect.DeepEqual(code.CPM, want2) {
		t.Fatalf("example 2 =\n%+v\nwant\n%+v", code.CPM, want2)
	}
	if a := code.CPM.Account(); a != "1234567890123458" {
		t.Fatalf("Account() = %q, want the PAN of the common data template", a)
	}

	code, err = Classify(cpmMerpay)
	if err != nil {
		t.Fatal(err)
	}
	if code.CPM.Applications[0].AID != "A000000065039202" || code.CPM.Account() != "3158990079242943" {
		t.Fatalf("Merpay = %+v", code.CPM)
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestParseCPMLongFormAndMultiByteTags(t *testing.T) {
	url := strings.Repeat("a", 120)
	// '61' of 9+10+123+5+7 = 154 bytes: long-form length 81 9A.
	app := "4F 07 A0000000555555" + "5A 08 1234567890123458" + "5F50 78 " + hex.EncodeToString([]byte(url)) +
		"DF8101 01 7F" + "63 05 9F3602 0001"
	if n := len(mustHex(strings.ReplaceAll(app, " ", ""))); n != 0x9A {
		t.Fatalf("test payload miscounted: %d", n)
	}
	c, err := ParseCPM(b64(pfi + "61 81 9A" + app))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Applications[0]
	if a.IssuerURL != url || a.PAN != "1234567890123458" {
		t.Fatalf("application = %+v", a)
	}
	if len(a.Other) != 1 || a.Other[0].Tag != 0xDF8101 || a.Other[0].Tag.String() != "DF8101" {
		t.Fatalf("three-byte tag not kept: %+v", a.Other)
	}
	if len(a.Transparent) != 1 || a.Transparent[0].Tag != 0x9F36 {
		t.Fatalf("transparent template = %+v", a.Transparent)
	}
	// The same with a two-byte long-form length, 82 00 9A.
	if _, err := ParseCPM(b64(pfi + "61 82 009A" + app)); err != nil {
		t.Fatalf("82 length form: %v", err)
	}
	// Unpadded base64, as some wallets send it.
	if _, err := ParseCPM(strings.TrimRight(cpmExample1, "=")); err != nil {
		t.Fatalf("unpadded base64: %v", err)
	}
}

func TestParseCPMHostile(t *testing.T) {
	const app = "61 0D 4F 07 A0000000555555 5A 02 1234"
	if _, err := ParseCPM(b64(pfi + app)); err != nil {
		t.Fatalf("the base payload of this table does not parse: %v", err)
	}
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "empty payload"},
		{"not base64", "hQ!!", `not base64: '!' at position 2`},
		{"bad padding", "hQVD=UFY", "not base64"},
		{"truncated base64", "hQVDUFYwMWEaTwegAAAAVVVVVw8SNFZ4kBI0WNGRIgESNF8", ""}, // decodes: checked below
		{"truncated TLV", cpmExample2[:40], "runs past the end"},
		{"truncated in length", b64(pfi + "61"), "has no length (truncated)"},
		{"truncated in long length", b64(pfi + "61 82 00"), "length field truncated"},
		{"truncated tag", b64(pfi + "5F"), "tag 5F truncated"},
		{"tag over 3 bytes", b64(pfi + "61 06 9F818101 01 00"), "longer than 3 bytes"},
		{"length past end", b64(pfi + "61 20 4F 07 A0000000555555"), "length 32 runs past the end, 9 bytes left"},
		{"inner length past end", b64(pfi + "61 09 4F 09 A0000000555555"), "tag 4F: length 9 runs past the end, 7 bytes left"},
		{"huge length", b64(pfi + "61 83 FFFFFF 00"), "length 16777215 runs past the end"},
		{"length field of 5 bytes", b64(pfi + "61 85 0000000001 00"), "length field of 5 bytes"},
		{"indefinite length", b64(pfi + "61 80 4F 07 A0000000555555 0000"), "indefinite length"},
		{"wrong format indicator", b64("85 05 435056 3032" + app), `payload format indicator is "CPV02", want "CPV01"`},
		{"binary format indicator", b64("85 03 00FF01" + app), `payload format indicator is "00FF01"`},
		{"format indicator not first", b64(app + pfi), "first data object is '61'"},
		{"no format indicator", b64(app), "first data object is '61'"},
		{"format indicator twice", b64(pfi + app + pfi), "'85' occurs twice"},
		{"no application template", b64(pfi), "no application template '61'"},
		{"only common data", b64(pfi + "62 04 5A 02 1234"), "no application template '61'"},
		{"application after common", b64(pfi + "62 04 5A 02 1234" + app), "'61' after the common data template"},
		{"common twice", b64(pfi + app + "62 04 5A 02 1234" + "62 04 5A 02 1234"), "'62' occurs twice"},
		{"unknown top-level", b64(pfi + app + "9F26 02 0000"), "unexpected data object '9F26' at the top level"},
		{"garbage after", b64(pfi + app + "00 00 00"), "byte 0x00 where a tag should start"},
		{"FF padding", b64(pfi + "FF" + app), "byte 0xff where a tag should start"},
		{"no ADF name", b64(pfi + "61 04 5A 02 1234"), "application template 1 has no ADF name '4F'"},
		{"short ADF name", b64(pfi + "61 0A 4F 04 A0000000 5A 02 1234"), "ADF name '4F' is 4 bytes, want 5-16"},
		{"no account", b64(pfi + "61 09 4F 07 A0000000555555"), "no account number"},
		{"PAN not BCD", b64(pfi + "61 0D 4F 07 A0000000555555 5A 02 12AB"), "nibble A at 2, not a digit"},
		{"PAN too long", b64(pfi + "61 15 4F 07 A0000000555555 5A 0A 12345678901234567890"), "holds 20 digits, want 1-19"},
		{"track 2 no separator", b64(pfi + "61 11 4F 07 A0000000555555 57 06 123456789012"), "no field separator 'D'"},
		{"track 2 short", b64(pfi + "61 0F 4F 07 A0000000555555 57 04 1234D191"), "no 4-digit expiry"},
		{"track 2 bad month", b64(pfi + "61 11 4F 07 A0000000555555 57 06 1234D1913201"), "expiry month 13"},
		{"label not printable", b64(pfi + app[:3] + "11" + app[5:] + "50 02 0A00"), "'50' has byte 0x0a at 0, not printable ASCII"},
		{"duplicate PAN", b64(pfi + "61 11 4F 07 A0000000555555 5A 02 1234 5A 02 1234"), "'5A' occurs twice"},
		{"too deep", b64(pfi + "61 0C 63 0A 63 08 63 06 63 04 63 02 63 00"), "nested more than 4 deep"},
		{"oversized", strings.Repeat("A", MaxLen+1), "more than the 2953"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseCPM(c.in)
			if c.want == "" {
				if err != nil {
					t.Fatalf("ParseCPM: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseCPM(%.60q) succeeded", c.in)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "1234567890123458") {
				t.Fatalf("error %q carries the account number", err)
			}
		})
	}
}

func TestClassifyCPMErrorsKeepScheme(t *testing.T) {
	code, err := Classify(b64("85 05 435056 3032 61 0D 4F 07 A0000000555555 5A 02 1234"))
	var e *Error
	if !errors.As(err, &e) || e.Scheme != EMVCPM || code.Scheme != EMVCPM {
		t.Fatalf("Classify = %v, %v; want an invalid emvco_cpm code", code.Scheme, err)
	}
	if !strings.Contains(e.Reason, "CPV02") {
		t.Fatalf("reason %q", e.Reason)
	}
}

func TestBERErrorOffset(t *testing.T) {
	// The inner '4F', at byte 7+2 = 9 of the payload, claims 9 bytes of 7.
	_, err := parseBER(mustHex("8505435056303161094F09A0000000555555"))
	var be *BERError
	if !errors.As(err, &be) || be.Offset != 9 {
		t.Fatalf("parseBER = %v, want a BERError at byte 9", err)
	}
}

func TestTagConstructed(t *testing.T) {
	for tag, want := range map[Tag]bool{0x61: true, 0x62: true, 0x63: true, 0x64: true, 0x85: false, 0x4F: false, 0x5F20: false, 0x9F26: false, 0xBF0C: true} {
		if tag.Constructed() != want {
			t.Errorf("Tag(%s).Constructed() = %v", tag, !want)
		}
	}
}

func TestTLVJSONRoundTrip(t *testing.T) {
	in := []TLV{{Tag: 0x9F26, Value: mustHex("584FD385FA234BCC")}, {Tag: 0xDF8101, Value: []byte{0x7F}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"tag":"9F26","value":"584FD385FA234BCC"},{"tag":"DF8101","value":"7F"}]`; string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
	var out []TLV
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %+v", out)
	}
	for _, bad := range []string{`{"tag":"XY"}`, `{"tag":""}`, `{"tag":"9F818101"}`, `{"tag":"9F26","value":"5"}`} {
		var d TLV
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}
