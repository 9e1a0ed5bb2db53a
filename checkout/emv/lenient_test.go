package emv

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// promptPayLike is shaped as a Thai PromptPay static code: a merchant
// account template, currency and country, but no merchant category,
// name or city, which EMVCo calls mandatory.
var promptPayLike = withCRC("000201010211" + "29370016A000000677010111" + "01130066812345678" + "5303764" + "5802TH")

func missingIDs(ms []Missing) string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return strings.Join(ids, ",")
}

func TestParseLenient(t *testing.T) {
	for _, c := range []struct {
		name, in, missing string
	}{
		{"EMVCo example", emvcoExample, ""},
		{"PromptPay-like", promptPayLike, "52,59,60"},
		{"account only", withCRC("000201" + "26190015com.guichet.pay"), "52,53,58,59,60"},
		{"no city", withCRC("000201010211" + "26190015com.guichet.pay" + "520454115303156" + "5802CN5904Shop"), "60"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ms, err := ParseLenient(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := missingIDs(ms); got != c.missing {
				t.Fatalf("missing %q, want %q", got, c.missing)
			}
			for _, m := range ms {
				if m.Name == "" || !strings.HasSuffix(m.String(), " missing") {
					t.Errorf("missing %+v says %q", m, m)
				}
			}
			strict, err := Parse(c.in)
			switch {
			case c.missing == "" && (err != nil || !reflect.DeepEqual(p, strict)):
				t.Fatalf("Parse = %+v, %v; ParseLenient %+v", strict, err, p)
			case c.missing != "" && !errors.Is(err, ErrMissing):
				t.Fatalf("strict Parse of a payload missing %s: %v, want ErrMissing", c.missing, err)
			}
		})
	}
	if _, ms, _ := ParseLenient(promptPayLike); ms[0].String() != "52 merchant category code missing" {
		t.Errorf("first missing says %q", ms[0])
	}
	// The till's own codes stay strict: Build refuses what Parse refuses.
	p, _, _ := ParseLenient(promptPayLike)
	if _, err := p.Build(); !errors.Is(err, ErrMissing) {
		t.Errorf("Build of a payload without 52: %v, want ErrMissing", err)
	}
}

// TestParseLenientRefusesAllElse: only absent mandatory fields are
// tolerated; a broken payload is refused as Parse refuses it.
func TestParseLenientRefusesAllElse(t *testing.T) {
	acct := "000201010211" + "26190015com.guichet.pay"
	for _, c := range []struct {
		name, in string
		kind     error
	}{
		{"bad CRC", promptPayLike[:len(promptPayLike)-1] + "0", ErrCRC},
		{"truncated", promptPayLike[:len(promptPayLike)-5], ErrLength},
		{"truncated TLV", withCRC(acct + "5802T"), ErrLength},
		{"length past the end", withCRC(acct) + "5930", ErrLength},
		{"present but empty", withCRC(acct + "5900"), ErrLength},
		{"bad length digits", withCRC(acct + "59x4Shop"), ErrSyntax},
		{"bad MCC", withCRC(acct + "520454A1"), ErrValue},
		{"bad currency", withCRC(acct + "530215"), ErrValue},
		{"lower-case country", withCRC(acct + "5802th"), ErrValue},
		{"control character in name", withCRC(acct + "5904Sh\x01p"), ErrValue},
		{"no merchant account", withCRC("000201" + "520454115303156"), ErrMissing},
		{"no CRC", acct, ErrMissing},
		{"CRC not last", withCRC(acct) + "5802CN", ErrCRC},
		{"no format indicator", withCRC("26190015com.guichet.pay"), ErrValue},
		{"duplicate", withCRC(acct + "5802CN5802CN"), ErrDuplicate},
		{"bad template", withCRC("000201" + "26060015ab"), ErrTemplate},
		{"invalid UTF-8", withCRC(acct + "5904\xff\xfe\xfd\xfc"), ErrSyntax},
		{"too long", strings.Repeat("0", MaxLen+100), ErrTooLong},
		{"empty", "", ErrMissing},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, ms, err := ParseLenient(c.in)
			if !errors.Is(err, c.kind) {
				t.Fatalf("ParseLenient = %+v, %v, %v; want %v", p, ms, err, c.kind)
			}
			if p != nil || ms != nil {
				t.Fatalf("refused payload returned %+v, %v", p, ms)
			}
		})
	}
}

func FuzzParseLenient(f *testing.F) {
	for _, s := range []string{emvcoExample, dongriExample, promptPayLike, promptPayLike[:40],
		withCRC("000201" + "26190015com.guichet.pay"), withCRC("000201" + "5900"), ""} {
		f.Add(s)
	}
	tolerated := map[string]bool{"52": true, "53": true, "58": true, "59": true, "60": true}
	f.Fuzz(func(t *testing.T, s string) {
		p, ms, err := ParseLenient(s)
		strict, serr := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind == nil || e.Reason == "" {
				t.Fatalf("ParseLenient error %v (%T) is not a complete *Error", err, err)
			}
			if serr == nil {
				t.Fatalf("ParseLenient refused %q (%v), which Parse accepts", s, err)
			}
			return
		}
		if len(p.CRC) != 4 || p.FormatIndicator != "01" || len(p.Accounts) == 0 {
			t.Fatalf("ParseLenient accepted an incomplete payload: %+v", p)
		}
		prev := ""
		for _, m := range ms {
			if !tolerated[m.ID] || m.ID <= prev || m.Name == "" {
				t.Fatalf("missing list %v", ms)
			}
			prev = m.ID
		}
		switch {
		case len(ms) == 0 && (serr != nil || !reflect.DeepEqual(p, strict)):
			t.Fatalf("nothing missing but Parse = %+v, %v; lenient %+v", strict, serr, p)
		case len(ms) > 0 && !errors.Is(serr, ErrMissing):
			t.Fatalf("%v missing but Parse = %v", ms, serr)
		}
	})
}
