package checkout

import (
	"math"
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
