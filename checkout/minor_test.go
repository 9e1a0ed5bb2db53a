package checkout

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestFormatMinor(t *testing.T) {
	for _, c := range []struct {
		v    int64
		code string
		want string
	}{
		{1234, "CNY", "12.34"},
		{5, "EUR", "0.05"},
		{-5, "EUR", "-0.05"},
		{1234, "JPY", "1234"},
		{1234, "KRW", "1234"},
		{1234, "BHD", "1.234"},
		{1234, "", "12.34"},
		{1234, "bogus", "12.34"},
		{math.MinInt64, "CNY", "-92233720368547758.08"},
	} {
		if got := FormatMinor(c.v, c.code); got != c.want {
			t.Errorf("FormatMinor(%d, %q) = %q, want %q", c.v, c.code, got, c.want)
		}
	}
}

func TestParseAmount(t *testing.T) {
	for _, c := range []struct {
		in, code string
		want     int64
	}{
		{"12.34", "CNY", 1234},
		{"1", "CNY", 100},
		{"0.5", "EUR", 50},
		{" 7.05 ", "CNY", 705},
		{"999999999.99", "CNY", MaxAmount},
		{"1234", "JPY", 1234},
		{"99999999999", "JPY", MaxAmount},
		{"1234", "KRW", 1234},
		{"1.234", "BHD", 1234},
		{"1.2", "BHD", 1200},
		{"3", "BHD", 3000},
		{"12.34", "", 1234},
		{"12.34", "bogus", 1234},
	} {
		if got, err := ParseAmount(c.in, c.code); err != nil || got != c.want {
			t.Errorf("ParseAmount(%q, %q) = %d, %v; want %d", c.in, c.code, got, err, c.want)
		}
	}
	for _, c := range []struct{ in, code string }{
		{"", "CNY"}, {"0", "CNY"}, {"0.00", "CNY"}, {"-1", "CNY"}, {"1.234", "CNY"}, {"abc", "CNY"},
		{"1e5", "CNY"}, {".5", "CNY"}, {"1.", "CNY"}, {"1,5", "CNY"}, {"+3", "CNY"}, {"1000000000", "CNY"},
		{strings.Repeat("9", 1<<20), "CNY"}, {"1.-1", "CNY"}, {"1.+1", "CNY"}, {"1. 5", "CNY"}, {"1.2.3", "CNY"},
		{"12.34", "JPY"}, {"12.", "JPY"}, {"0", "JPY"}, {"100000000000", "JPY"}, {"18446744073709551617", "JPY"},
		{"1.2345", "BHD"}, {"0.000", "BHD"}, {"100000000", "BHD"}, {"١٢", "CNY"},
	} {
		if v, err := ParseAmount(c.in, c.code); err == nil {
			t.Errorf("ParseAmount(%q, %q) = %d, accepted", c.in, c.code, v)
		} else if !errors.Is(err, ErrInput) {
			t.Errorf("ParseAmount(%q, %q): error %v does not wrap ErrInput", c.in, c.code, err)
		}
	}
	if _, err := ParseAmount("12.34", "JPY"); err == nil || !strings.Contains(err.Error(), "JPY has no decimals") {
		t.Errorf("ParseAmount(12.34, JPY): %v, want an error saying JPY has no decimals", err)
	}
}

func TestScale(t *testing.T) {
	for code, want := range map[string]int{"CNY": 2, "EUR": 2, "JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "": 2, "XXXX": 2} {
		if got := Scale(code); got != want {
			t.Errorf("Scale(%q) = %d, want %d", code, got, want)
		}
	}
	for code, want := range map[string]bool{"CNY": true, "JPY": true, "cny": false, "ABC": false, "": false, "CNYY": false} {
		if got := ValidCurrency(code); got != want {
			t.Errorf("ValidCurrency(%q) = %v, want %v", code, got, want)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12.34", "0", "1.2.3", "-5", "  9 ", "1.234"} {
		for _, code := range []string{"CNY", "JPY", "BHD"} {
			f.Add(s, code)
		}
	}
	f.Fuzz(func(t *testing.T, s, code string) {
		v, err := ParseAmount(s, code)
		if err != nil {
			return
		}
		if v <= 0 || v > MaxAmount {
			t.Fatalf("ParseAmount(%q, %q) = %d", s, code, v)
		}
		if back, err := ParseAmount(FormatMinor(v, code), code); err != nil || back != v {
			t.Fatalf("round trip of %d %s: %d, %v", v, code, back, err)
		}
	})
}
