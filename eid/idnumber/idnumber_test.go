package idnumber

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var today = time.Date(2025, 6, 1, 15, 0, 0, 0, time.UTC)

func TestCheckCharStandardExamples(t *testing.T) {
	// The two worked examples of GB 11643-1999, annex A.
	for _, tc := range []struct {
		first17 string
		want    byte
	}{
		{"11010519491231002", 'X'},
		{"44052418800101001", '4'},
	} {
		got, err := CheckChar(tc.first17)
		if err != nil || got != tc.want {
			t.Errorf("CheckChar(%s) = %q, %v; want %q", tc.first17, got, err, tc.want)
		}
	}
}

func TestParseValid(t *testing.T) {
	for _, tc := range []struct {
		in    string
		birth string
		male  bool
	}{
		{"11010519491231002X", "1949-12-31", false}, // GB 11643-1999 example
		{"11010519491231002x", "1949-12-31", false}, // typed in lower case
		{"440524188001010014", "1880-01-01", true},  // GB 11643-1999 example
		{"110101199003074477", "1990-03-07", true},
		{"810000199408230021", "1994-08-23", false}, // Hong Kong resident permit form
		{"11010120000229001", "2000-02-29", true},   // leap day, check added below
	} {
		if len(tc.in) == 17 {
			tc.in = fix(t, tc.in+"0")
		}
		n, err := parseAt(tc.in, today)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := n.Birth.Format(time.DateOnly); got != tc.birth {
			t.Errorf("%s: birth %s, want %s", tc.in, got, tc.birth)
		}
		if n.Male != tc.male {
			t.Errorf("%s: male %v", tc.in, n.Male)
		}
		if n.Region != tc.in[:6] || n.Sequence != tc.in[14:17] {
			t.Errorf("%s: parts %+v", tc.in, n)
		}
	}
}

// fix replaces the check character of s by the right one, so that a test
// row exercises the rule it is about and not the check.
func fix(t *testing.T, s string) string {
	t.Helper()
	c, err := CheckChar(s[:17])
	if err != nil {
		t.Fatal(err)
	}
	return s[:17] + string(c)
}

func TestParseHostile(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrLength},
		{"15-digit first generation", "110105491231002", ErrLength},
		{"19 characters", "11010519491231002X0", ErrLength},
		{"10 MB", strings.Repeat("1", 10<<20), ErrLength},
		{"letters", "11010519491231002A", ErrSyntax},
		{"X inside", "1101051949123100X2", ErrSyntax},
		{"full-width digits", "１１０１０５", ErrSyntax}, // 6 runes of 3 bytes: 18 bytes
		{"space", "110105 9491231002X", ErrSyntax},
		{"minus", "-11010519491231002", ErrSyntax},
		{"NUL", "11010519491231002\x00", ErrSyntax},
		{"bad check", "110105194912310021", ErrCheck},
		{"swapped digits", "11010519491213002X", ErrCheck},
		{"unknown province", fix(t, "990105194912310020"), ErrRegion},
		{"province zero", fix(t, "000000194912310020"), ErrRegion},
		{"no county", fix(t, "110000194912310020"), ErrRegion},
		{"month 13", fix(t, "110105194913310020"), ErrBirthDate},
		{"day 32", fix(t, "110105194912320020"), ErrBirthDate},
		{"29 Feb of a common year", fix(t, "110105190002290020"), ErrBirthDate},
		{"before 1850", fix(t, "110105184912310020"), ErrBirthDate},
		{"tomorrow", fix(t, "110105202506020020"), ErrBirthDate},
		{"year 9999", fix(t, "110105999912310020"), ErrBirthDate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseAt(tc.in, today)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(tc.in) >= 6 && strings.Contains(err.Error(), tc.in[:6]) && tc.want != ErrLength {
				t.Errorf("error %q leaks the number", err)
			}
		})
	}
}

func TestValidateUsesToday(t *testing.T) {
	if err := Validate("11010519491231002X"); err != nil {
		t.Fatal(err)
	}
	next := time.Now().AddDate(0, 0, 2).Format("20060102")
	if err := Validate(fix(t, "110105"+next+"0010")); !errors.Is(err, ErrBirthDate) {
		t.Fatalf("birth after today: %v", err)
	}
}

func TestEveryCheckValue(t *testing.T) {
	// Walk the sequence code until every check value 0..X has been seen and
	// accepted, and every other check character rejected.
	seen := map[byte]bool{}
	for seq := 0; seq < 1000 && len(seen) < 11; seq++ {
		base := "11010519800101" + string(rune('0'+seq/100)) + string(rune('0'+seq/10%10)) + string(rune('0'+seq%10))
		c, err := CheckChar(base)
		if err != nil {
			t.Fatal(err)
		}
		seen[c] = true
		for _, other := range "0123456789X" {
			_, err := parseAt(base+string(other), today)
			if (byte(other) == c) != (err == nil) {
				t.Fatalf("%s%c: err = %v (check is %c)", base, other, err, c)
			}
		}
	}
	if len(seen) != 11 {
		t.Fatalf("saw %d check values", len(seen))
	}
}

func FuzzParse(f *testing.F) {
	f.Add("11010519491231002X")
	f.Add("440524188001010014")
	f.Add("11010519491231002x")
	f.Add("")
	f.Add("99999999999999999X")
	f.Add("１１０１０５１９")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseAt(s, today)
		if err != nil {
			return
		}
		// Whatever is accepted is 18 bytes of digits and a check that holds.
		if len(s) != Len {
			t.Fatalf("accepted %d bytes", len(s))
		}
		c, cerr := CheckChar(s[:17])
		if cerr != nil || (c != s[17] && !(c == 'X' && s[17] == 'x')) {
			t.Fatalf("accepted %q with check %q", s, c)
		}
		if n.Birth.After(today) || n.Birth.Before(earliestBirth) {
			t.Fatalf("accepted birth %v", n.Birth)
		}
	})
}
