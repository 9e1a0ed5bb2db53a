package mrz

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Specimens of ICAO Doc 9303: Part 4 Appendix (TD3), Part 5 Appendix (TD1),
// Part 6 Appendix (TD2), and the older TD3 of Part 11 Appendix D.2.
const (
	td3    = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
	td3BAC = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C<3UTO6908061F9406236ZE184226B<<<<<14"
	td1    = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<"
	td2    = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6"
)

func TestCheckDigit(t *testing.T) {
	for in, want := range map[string]byte{
		"L898902C<": '3', "690806": '1', "940623": '6', "D23145890": '7', "740812": '2', "120415": '9', "": '0',
	} {
		got, err := CheckDigit(in)
		if err != nil || got != want {
			t.Errorf("CheckDigit(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := CheckDigit("ab"); !errors.Is(err, ErrCharacter) {
		t.Errorf("lower case accepted: %v", err)
	}
}

func TestKeyInfoWorkedExample(t *testing.T) {
	// Doc 9303 Part 11 Appendix D.2.
	got, err := KeyInfo("L898902C", "690806", "940623")
	if err != nil {
		t.Fatal(err)
	}
	if got != "L898902C<369080619406236" {
		t.Errorf("KeyInfo = %q", got)
	}
	for _, bad := range [][3]string{{"", "690806", "940623"}, {"L898902C", "6908", "940623"}, {"L898902C", "690806", "94062X"}, {"l8?", "690806", "940623"}} {
		if _, err := KeyInfo(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("KeyInfo(%q) accepted", bad)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Document
	}{
		{td3, Document{Format: TD3, DocumentCode: "P", Issuer: "UTO", DocumentNumber: "L898902C3", Nationality: "UTO", BirthDate: "740812", Sex: "F", ExpiryDate: "120415", Surname: "ERIKSSON", GivenNames: "ANNA MARIA", OptionalData: "ZE184226B"}},
		{td3BAC, Document{Format: TD3, DocumentCode: "P", Issuer: "UTO", DocumentNumber: "L898902C", Nationality: "UTO", BirthDate: "690806", Sex: "F", ExpiryDate: "940623", Surname: "ERIKSSON", GivenNames: "ANNA MARIA", OptionalData: "ZE184226B"}},
		{td1, Document{Format: TD1, DocumentCode: "I", Issuer: "UTO", DocumentNumber: "D23145890", Nationality: "UTO", BirthDate: "740812", Sex: "F", ExpiryDate: "120415", Surname: "ERIKSSON", GivenNames: "ANNA MARIA"}},
		{td2, Document{Format: TD2, DocumentCode: "I", Issuer: "UTO", DocumentNumber: "D23145890", Nationality: "UTO", BirthDate: "740812", Sex: "F", ExpiryDate: "120415", Surname: "ERIKSSON", GivenNames: "ANNA MARIA"}},
		{strings.ReplaceAll(td3, "\n", ""), Document{Format: TD3, DocumentCode: "P", Issuer: "UTO", DocumentNumber: "L898902C3", Nationality: "UTO", BirthDate: "740812", Sex: "F", ExpiryDate: "120415", Surname: "ERIKSSON", GivenNames: "ANNA MARIA", OptionalData: "ZE184226B"}},
	}
	for _, tt := range tests {
		d, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if *d != tt.want {
			t.Errorf("Parse(%q) =\n %+v\nwant\n %+v", tt.in, *d, tt.want)
		}
	}
}

func TestParseLongDocumentNumberTD1(t *testing.T) {
	// A 12-character number: 9 in the field, '<', then 3 more and the check digit.
	num := "D23145890123"
	cd, _ := CheckDigit(num)
	l1 := "I<UTO" + num[:9] + "<" + num[9:] + string(cd)
	l1 += strings.Repeat("<", 30-len(l1))
	l2 := "7408122F1204159UTO<<<<<<<<<<<"
	comp, _ := CheckDigit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
	l2 += string(comp)
	d, err := Parse(l1 + "\n" + l2 + "\nERIKSSON<<ANNA<MARIA<<<<<<<<<<")
	if err != nil {
		t.Fatal(err)
	}
	if d.DocumentNumber != num || d.OptionalData != "" {
		t.Errorf("number %q optional %q", d.DocumentNumber, d.OptionalData)
	}
}

func TestParseHostile(t *testing.T) {
	flip := func(s string, i int, c byte) string { b := []byte(s); b[i] = c; return string(b) }
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrFormat},
		{"truncated TD3", td3[:80], ErrFormat},
		{"oversized", td3 + "<<<", ErrFormat},
		{"lower case", strings.ToLower(td3), ErrCharacter},
		{"garbage", strings.Repeat("\x00\xff", 44), ErrCharacter},
		{"10 MB", strings.Repeat("A", 10<<20), ErrFormat},
		{"document number check", flip(td3, 45+9, '4'), ErrCheckDigit},
		{"birth date check", flip(td3, 45+19, '3'), ErrCheckDigit},
		{"expiry check", flip(td3, 45+27, '0'), ErrCheckDigit},
		{"composite", flip(td3, 88, '2'), ErrCheckDigit},
		{"TD1 composite", flip(td1, 31+29, '7'), ErrCheckDigit},
		{"TD2 composite", flip(td2, 37+35, '7'), ErrCheckDigit},
		{"bad month", "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7413122F1204159ZE184226B<<<<<10", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFullDate(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in    string
		birth bool
		want  string
	}{
		{"690806", true, "1969-08-06"},
		{"050101", true, "2005-01-01"},
		{"300101", true, "1930-01-01"},
		{"940623", false, "1994-06-23"},
		{"990623", false, "1999-06-23"},
		{"350623", false, "2035-06-23"},
		{"69<<<<", true, "69<<<<"},
	} {
		if got := FullDate(tt.in, tt.birth, now); got != tt.want {
			t.Errorf("FullDate(%q, %v) = %q, want %q", tt.in, tt.birth, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{td1, td2, td3, td3BAC, "", "P<", strings.Repeat("<", 90)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d.Format != TD1 && d.Format != TD2 && d.Format != TD3 {
			t.Fatalf("format %q", d.Format)
		}
		if strings.Contains(d.DocumentNumber, "<<") && d.Format == TD3 {
			t.Fatalf("untrimmed number %q", d.DocumentNumber)
		}
	})
}
