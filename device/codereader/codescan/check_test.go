package codescan

import (
	"strings"
	"testing"
)

func TestValidText(t *testing.T) {
	cases := []struct {
		format, text string
		ok           bool
	}{
		{EAN13, "9780441014989", true},
		{EAN13, "9780441014988", false},
		{EAN13, "978044101498", false},
		{EAN13, "97804410149890", false},
		{EAN13, "97804410149a9", false},
		{EAN13, "", false},
		{EAN8, "12345670", true},
		{EAN8, "12345671", false},
		{UPCA, "036602301467", true},
		{UPCA, "036602301468", false},
		{UPCA, "0036602301467", false},
		{UPCE, "01234565", true}, // UPC-A 012345000065
		{UPCE, "01234566", false},
		{UPCE, "21234565", false}, // number system 2 does not exist in UPC-E
		{UPCE, "0123456", false},
		{QRCode, "anything", true},
		{QRCode, "", false},
		{Code128, "Code 128", true},
		{EAN13, strings.Repeat("9", 10<<20), false},
	}
	for _, c := range cases {
		if got := ValidText(c.format, c.text); got != c.ok {
			t.Errorf("ValidText(%s, %.20q) = %v, want %v", c.format, c.text, got, c.ok)
		}
	}
}

func TestExpandUPCE(t *testing.T) {
	// GS1 General Specifications figure 5.2.2.4.2-1 rules, one per last digit class.
	cases := map[string]string{
		"01234505": "012000003455", // ..0: manufacturer 12 0 00, item 345
		"01234536": "012300000456",
		"01234547": "012340000057",
		"01234558": "012345000058",
	}
	for e, a := range cases {
		if got := expandUPCE(e)[:11]; got != a[:11] {
			t.Errorf("expandUPCE(%s) = %s, want %s", e, got, a[:11])
		}
	}
}

func FuzzValidText(f *testing.F) {
	for _, s := range []string{"9780441014989", "12345670", "036602301467", "01234565", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, format := range []string{EAN13, EAN8, UPCA, UPCE, QRCode} {
			if ValidText(format, s) && format != QRCode {
				for _, c := range s {
					if c < '0' || c > '9' {
						t.Fatalf("%s accepted non-digit text %q", format, s)
					}
				}
			}
		}
	})
}
