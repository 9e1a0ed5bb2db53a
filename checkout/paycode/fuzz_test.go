package paycode

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"134567890123456789", "2812345678901234", "6212345678901234567", "13456789012345678",
		cpmExample1, cpmExample2, cpmMerpay, cpmExample2[:50], "hQ", "hQVDUFYwMQ==",
		b64(pfi + "61 81 0D 4F 07 A0000000555555 5A 02 1234"),
		b64(pfi + "61 0C 63 0A 63 08 63 06 63 04 63 02 63 00"),
		b64(pfi + "61 83 FFFFFF"),
		"000201010211", "https://qr.alipay.com/x", "", " \n", "\xff\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, err := Classify(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason == "" || e.Scheme != code.Scheme {
				t.Fatalf("Classify error %v (%T) is incomplete or disagrees with scheme %q", err, err, code.Scheme)
			}
			return
		}
		switch code.Scheme {
		case WeChatPay, Alipay, UnionPay:
			if !allDigits(code.Text) || len(code.Text) < 16 || len(code.Text) > 24 {
				t.Fatalf("accepted %q as %s", code.Text, code.Scheme)
			}
		case EMVCPM:
			c := code.CPM
			if c == nil || c.Format != FormatCPV01 || len(c.Applications) == 0 || c.Account() == "" {
				t.Fatalf("accepted an incomplete CPM: %+v", c)
			}
		default:
			t.Fatalf("valid code of scheme %q", code.Scheme)
		}
		if code.Text != strings.TrimSpace(s) {
			t.Fatalf("Text %q is not the trimmed input", code.Text)
		}
	})
}

// FuzzParseCPM feeds raw bytes to the BER-TLV and CPM layer, past the
// base64 that would otherwise make most inputs fail early.
func FuzzParseCPM(f *testing.F) {
	for _, s := range []string{cpmExample1, cpmExample2, cpmMerpay} {
		b, _ := base64.StdEncoding.DecodeString(s)
		f.Add(b)
	}
	f.Add(mustHex("8505435056303161819A"))
	f.Add(mustHex("85054350563031DF818101"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCPM(base64.StdEncoding.EncodeToString(b))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if c.Format != FormatCPV01 || len(c.Applications) == 0 {
			t.Fatalf("accepted %X as %+v", b, c)
		}
		for _, a := range c.Applications {
			if a.AID == "" {
				t.Fatalf("application without AID accepted: %X", b)
			}
		}
	})
}
