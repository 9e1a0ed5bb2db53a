package checkout

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/text/currency"
)

// Scale is the number of decimals of the ISO 4217 currency code, from
// the CLDR data of golang.org/x/text/currency: 2 for CNY and EUR, 0 for
// JPY and KRW, 3 for BHD. An unknown or empty code gets two decimals.
func Scale(code string) int {
	if u, err := currency.ParseISO(code); err == nil {
		scale, _ := currency.Standard.Rounding(u)
		return scale
	}
	return 2
}

// ValidCurrency reports whether code is an ISO 4217 alphabetic code
// known to golang.org/x/text/currency, in upper case.
func ValidCurrency(code string) bool {
	u, err := currency.ParseISO(code)
	return err == nil && u.String() == code
}

// FormatMinor formats v, in the minor units of the ISO 4217 currency
// code, with that currency's decimals: FormatMinor(1234, "CNY") is
// "12.34", FormatMinor(1234, "JPY") "1234", FormatMinor(1234, "BHD")
// "1.234". An unknown code gets two decimals.
func FormatMinor(v int64, code string) string {
	scale := Scale(code)
	sign, u := "", uint64(v)
	if v < 0 {
		sign, u = "-", uint64(-(v+1))+1 // math.MinInt64 has no positive
	}
	if scale == 0 {
		return fmt.Sprintf("%s%d", sign, u)
	}
	p := pow10(scale)
	return fmt.Sprintf("%s%d.%0*d", sign, u/p, scale, u%p)
}

// ParseAmount reads a positive decimal amount in the currency code into
// its minor units, the inverse of FormatMinor: "12.34" is 1234 in CNY,
// "1234" is 1234 in JPY (which has no decimals, so "12.34" is refused),
// "1.234" is 1234 in BHD. It allows at most the currency's decimals and
// amounts up to MaxAmount minor units. An unknown code gets two decimals.
func ParseAmount(s, code string) (int64, error) {
	s = strings.TrimSpace(s)
	scale := Scale(code)
	bad := func() error {
		if scale == 0 {
			return fmt.Errorf("%w: amount %q: want a whole number such as 1234 (%s has no decimals)", ErrInput, clip(s), code)
		}
		return fmt.Errorf("%w: amount %q: want a number with at most %d decimals such as %s", ErrInput, clip(s), scale, FormatMinor(1234, code))
	}
	whole, frac, dot := strings.Cut(s, ".")
	// 12 digits bound the parse; MaxAmount bounds the value.
	if whole == "" || len(whole) > 12 || len(frac) > scale || (dot && frac == "") || !digits(whole) || !digits(frac) {
		return 0, bad()
	}
	w, err := strconv.ParseUint(whole, 10, 64)
	if err != nil {
		return 0, bad()
	}
	var f uint64
	if frac != "" {
		f, _ = strconv.ParseUint(frac, 10, 64)
		f *= pow10(scale - len(frac))
	}
	p := pow10(scale)
	if w > MaxAmount/p {
		return 0, fmt.Errorf("%w: amount %q: at most %s", ErrInput, clip(s), FormatMinor(MaxAmount, code))
	}
	v := int64(w*p + f)
	if v <= 0 {
		return 0, fmt.Errorf("%w: amount must be more than zero", ErrInput)
	}
	if v > MaxAmount {
		return 0, fmt.Errorf("%w: amount %q: at most %s", ErrInput, clip(s), FormatMinor(MaxAmount, code))
	}
	return v, nil
}

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}
