package checkout

import (
	"fmt"

	"golang.org/x/text/currency"
)

// FormatMinor formats v, in the minor units of the ISO 4217 currency
// code, with that currency's decimals: FormatMinor(1234, "CNY") is
// "12.34", FormatMinor(1234, "JPY") "1234", FormatMinor(1234, "BHD")
// "1.234". An unknown code gets two decimals.
func FormatMinor(v int64, code string) string {
	scale := 2
	if u, err := currency.ParseISO(code); err == nil {
		scale, _ = currency.Standard.Rounding(u)
	}
	sign, u := "", uint64(v)
	if v < 0 {
		sign, u = "-", uint64(-(v+1))+1 // math.MinInt64 has no positive
	}
	if scale == 0 {
		return fmt.Sprintf("%s%d", sign, u)
	}
	p := uint64(1)
	for range scale {
		p *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, u/p, scale, u%p)
}
