package qr_test

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/guichet/guichet/device/display/render"
	"github.com/guichet/guichet/internal/qr"
)

// payloads covers an EMVCo merchant-presented payload, a short one, one in
// alphanumeric mode's alphabet and one that is not ASCII (ECI, UTF-8).
var payloads = []string{
	"00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A",
	"x",
	"HTTPS://EXAMPLE.COM/PAY/42",
	"Payé 12,34 € à la boulangerie",
}

// TestPanelAndBrowserDrawOneCode checks that the customer panel's image and
// the PNG the UI serves carry the same modules for one payload, and that
// ZXing's decoder reads both back.
func TestPanelAndBrowserDrawOneCode(t *testing.T) {
	for _, p := range payloads {
		t.Run(p[:min(len(p), 12)], func(t *testing.T) {
			m, err := qr.Encode(p)
			if err != nil {
				t.Fatal(err)
			}
			n := m.Size()
			side := n + 2*qr.QuietZone
			panel, err := render.Code(p, side*2) // 2 pixels a module
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := qr.WritePNG(&buf, p, 5); err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(&buf)
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if img.Bounds().Dx() != side*5 || panel.Rect.Dx() != side*2 {
				t.Fatalf("PNG %v and panel %v, want %d modules a side", img.Bounds(), panel.Rect, side)
			}
			for y := 0; y < side; y++ {
				for x := 0; x < side; x++ {
					darkPanel := panel.GrayAt(x*2, y*2).Y == render.Unlit.Y
					r, _, _, _ := img.At(x*5+2, y*5+2).RGBA()
					darkPNG := r < 0x8000
					inside := x >= qr.QuietZone && y >= qr.QuietZone && x < n+qr.QuietZone && y < n+qr.QuietZone
					want := inside && m.Dark(x-qr.QuietZone, y-qr.QuietZone)
					if darkPanel != want || darkPNG != want {
						t.Fatalf("module (%d,%d): matrix %v, panel %v, PNG %v", x, y, want, darkPanel, darkPNG)
					}
				}
			}
			for name, im := range map[string]image.Image{"panel": panel, "PNG": img} {
				if got := decode(t, im); got != p {
					t.Errorf("%s decodes to %q, want %q", name, got, p)
				}
			}
		})
	}
}

func decode(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("does not decode: %v", err)
	}
	return res.GetText()
}

func TestEncodeRefuses(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		tooBig  bool
		says    string
	}{
		{"empty", "", false, "empty payload"},
		{"not UTF-8", "pay\xff", false, "not valid UTF-8"},
		{"over capacity", strings.Repeat("A", qr.MaxPayload+1), true, "at most 2953"},
		{"10 MB", strings.Repeat("\x01", 10<<20), true, "bytes"},
		{"binary over level M", strings.Repeat("\x01", 2400), true, "2400 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := qr.Encode(tt.payload)
			if err == nil || errors.Is(err, qr.ErrTooBig) != tt.tooBig || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("Encode = %v, want an error saying %q (too big: %v)", err, tt.says, tt.tooBig)
			}
		})
	}
	for _, scale := range []int{0, -1, 256} {
		if err := qr.WritePNG(&bytes.Buffer{}, "x", scale); err == nil {
			t.Errorf("WritePNG accepted a module width of %d", scale)
		}
	}
}

// TestLevelM checks the choice the package makes once: version 1 at level M
// holds 14 bytes, and a 15th needs version 2.
func TestLevelM(t *testing.T) {
	for n, size := range map[int]int{14: 21, 15: 25} {
		m, err := qr.Encode(strings.Repeat("a", n))
		if err != nil {
			t.Fatal(err)
		}
		if m.Size() != size {
			t.Errorf("%d bytes: %d modules a side, want %d", n, m.Size(), size)
		}
	}
}
