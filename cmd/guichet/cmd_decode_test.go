//go:build !noopencv

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/internal/shared"
)

var barcodes = shared.Testdata("barcodes")

func TestDecodeCommand(t *testing.T) {
	qr := filepath.Join(barcodes, "qrcode-2", "1.png")
	ean := filepath.Join(barcodes, "ean13-3", "03.png")
	neg := filepath.Join(barcodes, "falsepositives-1", "01.png")
	wantQR, err := os.ReadFile(strings.TrimSuffix(qr, ".png") + ".txt")
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"decode", "--json", qr, ean, neg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), out.String())
	}
	var got []decodeLine
	for _, l := range lines {
		var d decodeLine
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		got = append(got, d)
	}
	if got[0].File != qr || len(got[0].Codes) != 1 || got[0].Codes[0].Format != "QR_CODE" || got[0].Codes[0].Text != string(wantQR) {
		t.Errorf("QR image: %+v", got[0])
	}
	if len(got[1].Codes) != 1 || got[1].Codes[0] != (decodeCode{"EAN_13", "9780764544200"}) {
		t.Errorf("EAN image: %+v", got[1])
	}
	if len(got[2].Codes) != 0 || got[2].MS <= 0 {
		t.Errorf("negative image: %+v", got[2])
	}

	out.Reset()
	if code := run([]string{"decode", "--fast", ean, neg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if s := out.String(); !strings.Contains(s, ean+`: EAN_13 "9780764544200"`) || !strings.Contains(s, neg+": no code") {
		t.Errorf("text output:\n%s", s)
	}
}

func TestDecodeCommandErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"decode"}, &out, &errb); code != 2 {
		t.Errorf("no files: exit %d, want 2", code)
	}
	if code := run([]string{"decode", "--formats", "PDF417", "x.png"}, &out, &errb); code != 2 {
		t.Errorf("bad format: exit %d, want 2", code)
	}
	bad := filepath.Join(t.TempDir(), "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	out.Reset()
	errb.Reset()
	if code := run([]string{"decode", "--json", bad}, &out, &errb); code != 1 {
		t.Errorf("unreadable file: exit %d, want 1", code)
	}
	if !strings.Contains(out.String(), `"error":"cannot read image"`) || !strings.Contains(errb.String(), "1 of 1") {
		t.Errorf("unreadable file: stdout %q stderr %q", out.String(), errb.String())
	}
}
