package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/checkout/emv"
)

const emvcoExamplePayload = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A"

func TestEMVParse(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"emv", "parse", emvcoExamplePayload}, &out, &errb); rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if got["merchant_name"] != "BEST TRANSPORT" || got["transaction_amount"] != "23.72" || got["crc"] != "A13A" {
		t.Fatalf("fields: %v", got)
	}
	lang, _ := got["merchant_information_language"].(map[string]any)
	if lang["merchant_name"] != "最佳运输" {
		t.Fatalf("language template: %v", got["merchant_information_language"])
	}
}

func TestEMVParseFailures(t *testing.T) {
	for _, c := range []struct {
		name, payload, want string
		rc                  int
	}{
		{"bad CRC", emvcoExamplePayload[:len(emvcoExamplePayload)-1] + "B", "bad CRC in 63 at offset 240: payload says A13B, computed A13A", 1},
		{"bad length", "0002015930Shop", "bad length in 59 at offset 6: length 30 runs past the end", 1},
		{"malformed template", withCRCForTest("000201" + "26060015ab" + "520454115303156"), "malformed template", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			rc := run([]string{"emv", "parse", c.payload}, &out, &errb)
			if rc != c.rc {
				t.Fatalf("exit %d, want %d; stderr %q", rc, c.rc, errb.String())
			}
			if lines := strings.Count(errb.String(), "\n"); lines != 1 || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("stderr %q, want one line saying %q", errb.String(), c.want)
			}
			if out.Len() != 0 {
				t.Fatalf("stdout %q on failure", out.String())
			}
		})
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"emv", "parse"}, &out, &errb); rc != 2 {
		t.Fatalf("parse without payload: exit %d, want 2", rc)
	}
	if rc := run([]string{"emv", "frobnicate"}, &out, &errb); rc != 2 {
		t.Fatalf("unknown emv command: exit %d, want 2", rc)
	}
}

func withCRCForTest(body string) string {
	body += "6304"
	return body + hex4(emv.CRC16([]byte(body)))
}

func hex4(v uint16) string {
	const d = "0123456789ABCDEF"
	return string([]byte{d[v>>12], d[v>>8&15], d[v>>4&15], d[v&15]})
}

func TestEMVMPM(t *testing.T) {
	png := filepath.Join(t.TempDir(), "qr.png")
	var out, errb bytes.Buffer
	rc := run([]string{"emv", "mpm", "--merchant-name", "Shop", "--city", "Nanning", "--mcc", "5411",
		"--currency", "156", "--country", "CN", "--amount", "12.34", "--account-gui", "com.guichet.pay",
		"--account-id", "M123", "--bill-number", "T-42", "--png", png}, &out, &errb)
	if rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	payload := strings.TrimSuffix(out.String(), "\n")
	p, err := emv.Parse(payload)
	if err != nil {
		t.Fatalf("printed payload does not parse: %v\n%s", err, payload)
	}
	if p.Initiation != emv.Dynamic || p.Amount != "12.34" || p.Accounts[0].GUI != "com.guichet.pay" ||
		p.Accounts[0].Fields[0] != (emv.Field{ID: "01", Value: "M123"}) || p.Additional.BillNumber != "T-42" {
		t.Fatalf("payload fields: %+v", p)
	}
	b, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("--png did not write a PNG: %v", err)
	}

	out.Reset()
	rc = run([]string{"emv", "mpm", "--static", "--merchant-name", "Shop", "--city", "Nanning", "--mcc", "5411",
		"--currency", "156", "--country", "CN", "--account-template", "15", "--account-id", "6200123456"}, &out, &errb)
	if rc != 0 {
		t.Fatalf("static: exit %d: %s", rc, errb.String())
	}
	if p, err := emv.Parse(strings.TrimSpace(out.String())); err != nil || p.Initiation != emv.Static || p.Amount != "" || p.Accounts[0].Value != "6200123456" {
		t.Fatalf("static payload %q: %+v %v", out.String(), p, err)
	}
}

func TestEMVMPMFailures(t *testing.T) {
	base := []string{"emv", "mpm", "--merchant-name", "Shop", "--city", "Nanning", "--mcc", "5411", "--currency", "156", "--country", "CN", "--account-gui", "g"}
	for _, c := range []struct {
		name string
		args []string
		rc   int
		want string
	}{
		{"missing city", []string{"emv", "mpm", "--merchant-name", "Shop", "--mcc", "5411", "--currency", "156", "--country", "CN", "--account-gui", "g"}, 2, "--city is required"},
		{"missing GUI", base[:len(base)-2], 2, "--account-gui is required"},
		{"bad amount", append(base, "--amount", "12,34"), 1, `transaction amount "12,34" is not digits`},
		{"name too long", append(base, "--merchant-name", strings.Repeat("n", 26)), 1, "26 characters, at most 25"},
		{"bad flag", append(base, "--frob"), 2, "flag provided but not defined"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if rc := run(c.args, &out, &errb); rc != c.rc || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d saying %q", rc, errb.String(), c.rc, c.want)
			}
		})
	}
}

// TestEMVParseNamesMissing: a national scheme's code without merchant
// category, name or city is parsed and what is missing named; --strict
// refuses it as the till refuses its own codes.
func TestEMVParseNamesMissing(t *testing.T) {
	payload := withCRCForTest("000201010211" + "29370016A000000677010111" + "01130066812345678" + "5303764" + "5802TH")
	var out, errb bytes.Buffer
	if rc := run([]string{"emv", "parse", payload}, &out, &errb); rc != 0 {
		t.Fatalf("exit %d: %s", rc, errb.String())
	}
	var got struct {
		Country string        `json:"country_code"`
		Missing []emv.Missing `json:"missing"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if got.Country != "TH" || len(got.Missing) != 3 || got.Missing[0] != (emv.Missing{ID: "52", Name: "merchant category code"}) {
		t.Fatalf("parsed %+v", got)
	}
	want := "emv parse: 52 merchant category code missing\nemv parse: 59 merchant name missing\nemv parse: 60 merchant city missing\n"
	if errb.String() != want {
		t.Fatalf("stderr %q, want %q", errb.String(), want)
	}
	out.Reset()
	errb.Reset()
	if rc := run([]string{"emv", "parse", "--strict", payload}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "missing mandatory field in 52") {
		t.Fatalf("--strict: exit %d, stderr %q", rc, errb.String())
	}
	// A bad CRC is refused without --strict too.
	out.Reset()
	errb.Reset()
	if rc := run([]string{"emv", "parse", payload[:len(payload)-1] + "0"}, &out, &errb); rc != 1 || !strings.Contains(errb.String(), "bad CRC") || out.Len() != 0 {
		t.Fatalf("bad CRC: exit %d, stderr %q, stdout %q", rc, errb.String(), out.String())
	}
}
