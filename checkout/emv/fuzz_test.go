package emv

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		emvcoExample,
		dongriExample,
		withCRC("000201010211" + "26190015com.guichet.pay" + "520454115303156" + "5802CN5904Shop6007Nanning"),
		withCRC("000201010212" + "26190015com.guichet.pay" + "520454115303156540512.345502035704" + "3.505802CN5904Shop6007Nanning6105530006224010812345678070674696c6c31" + "64170002ZH0104商店0202南宁" + "6503abc" + "80120004guid0101x"),
		emvcoExample[:len(emvcoExample)-1],
		"",
		"0002",
		"00020101",
		"6304A13A",
		"00020199",
		"hQVDUFYwMWEaTwegAAAAVVVVVw8SNFZ4kBI0WNGRIgESNF8=",
		"\xff\xfe\x00",
		strings.Repeat("0", 300),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind == nil || e.Reason == "" {
				t.Fatalf("Parse error %v (%T) is not a complete *Error", err, err)
			}
			return
		}
		if len(p.CRC) != 4 || p.FormatIndicator != "01" || len(p.Accounts) == 0 {
			t.Fatalf("Parse accepted an incomplete payload: %+v", p)
		}
		built, err := p.Build()
		if err != nil {
			// Parse is lenient about free-text lengths; Build is not.
			if !errors.Is(err, ErrLength) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("Build of a parsed payload: %v", err)
			}
			return
		}
		q, err := Parse(built)
		if err != nil {
			t.Fatalf("Parse(Build(Parse(%q))) = %v\n%s", s, err, built)
		}
		p.CRC, q.CRC = "", ""
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the payload:\n%+v\n%+v", p, q)
		}
		again, err := q.Build()
		if err != nil || again != built {
			t.Fatalf("Build is not stable: %q, %v", again, err)
		}
	})
}

func FuzzBuildParse(f *testing.F) {
	f.Add("BEST TRANSPORT", "BEIJING", "23.72", "4111", "156", "CN", "D15600000000", "A93FO3230Q", "bill-1", "最佳运输", true)
	f.Add("Épicerie", "Nanning", "", "5411", "978", "FR", "com.guichet.pay", "", "", "", false)
	f.Add("", "", "1.2.3", "54x1", "15", "cn", "", "x", strings.Repeat("b", 30), "\x00", true)
	f.Fuzz(func(t *testing.T, name, city, amount, mcc, currency, country, gui, acct, bill, altName string, dynamic bool) {
		p := Payload{
			Initiation:   Static,
			MCC:          mcc,
			Currency:     currency,
			Amount:       amount,
			Country:      country,
			MerchantName: name,
			City:         city,
			Accounts:     []MerchantAccount{{ID: "26", GUI: gui}},
		}
		if dynamic {
			p.Initiation = Dynamic
		}
		if acct != "" {
			p.Accounts[0].Fields = []Field{{"01", acct}}
		}
		if bill != "" {
			p.Additional = &AdditionalData{BillNumber: bill}
		}
		if altName != "" {
			p.Language = &Language{Preference: "ZH", Name: altName}
		}
		s, err := p.Build()
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind == nil {
				t.Fatalf("Build error %v is not an *Error", err)
			}
			return
		}
		q, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(Build(%+v)) = %v\n%s", p, err, s)
		}
		p.FormatIndicator = "01"
		q.CRC = ""
		if !reflect.DeepEqual(&p, q) {
			t.Fatalf("round trip changed the payload:\n%+v\n%+v", p, *q)
		}
	})
}
