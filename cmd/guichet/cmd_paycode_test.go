package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestPaycode(t *testing.T) {
	for _, c := range []struct {
		code, scheme string
		valid        bool
		reason       string
	}{
		{"134567890123456789", "wechat_pay", true, ""},
		{"2812345678901234\r\n", "alipay", true, ""},
		{"6212345678901234567", "unionpay", true, ""},
		{"hQVDUFYwMWEaTwegAAAAVVVVVw8SNFZ4kBI0WNGRIgESNF8=", "emvco_cpm", true, ""},
		{"13456789012345678", "wechat_pay", false, "17 digits; WeChat Pay codes (prefix 10-15) have 18"},
		{"hQVDUFYwMmEaTwegAAAAVVVVVw8SNFZ4kBI0WNGRIgESNF8=", "emvco_cpm", false, `payload format indicator is "CPV02"`},
		{"hello", "unknown", false, "neither all digits"},
	} {
		var out, errb bytes.Buffer
		rc := run([]string{"paycode", c.code}, &out, &errb)
		var res struct {
			Scheme string  `json:"scheme"`
			Valid  bool    `json:"valid"`
			Reason *string `json:"reason"`
		}
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%q: output is not JSON: %v\n%s", c.code, err, out.String())
		}
		if res.Scheme != c.scheme || res.Valid != c.valid || res.Reason == nil || !strings.Contains(*res.Reason, c.reason) {
			t.Errorf("%q: %s", c.code, out.String())
		}
		wantRC := 0
		if !c.valid {
			wantRC = 1
		}
		if rc != wantRC {
			t.Errorf("%q: exit %d, want %d (stderr %q)", c.code, rc, wantRC, errb.String())
		}
		if strings.Contains(out.String()+errb.String(), strings.TrimSpace(c.code)) {
			t.Errorf("%q: the code itself was printed", c.code)
		}
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"paycode"}, &out, &errb); rc != 2 {
		t.Fatalf("paycode without CODE: exit %d, want 2", rc)
	}
}
