package render

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/guichet/guichet/device/display"
)

var update = flag.Bool("update", false, "rewrite the golden PNGs in testdata")

// emvPayload is an EMVCo merchant-presented payload of 158 characters with a
// valid CRC: a shop, an amount of CNY 128.50, a bill and a terminal label.
const emvPayload = "00020101021226390015com.guichet.pay0116MCH00012345678905204541153031565406128.505802CN5917GUICHET DEMO SHOP6009GUANGZHOU62260512T202611230010706TILL036304DBBF"

var panel = image.Pt(128, 64)

var goldens = []struct {
	name   string
	size   image.Point
	screen display.Screen
}{
	{"emv_128x64", panel, display.Screen{QR: emvPayload, Lines: []string{"CNY", "128.50", "Scan to", "pay"}}},
	{"short_qr_128x64", panel, display.Screen{QR: "https://g.example/p/42", Lines: []string{"Thank you"}}},
	{"qr_only_128x64", panel, display.Screen{QR: "12345678"}},
	{"lines_only_128x64", panel, display.Screen{Lines: []string{"Paid", "CNY 128.50", "Merci / Thanks"}}},
	{"non_ascii_128x64", panel, display.Screen{Lines: []string{"Payé Ça", "谢谢", "tab\there"}}},
	{"truncated_128x64", panel, display.Screen{QR: emvPayload, Lines: []string{"CNY 1234567.89"}}},
	{"lines_128x32", image.Pt(128, 32), display.Screen{Lines: []string{"Declined", "Try again"}}},
	{"emv_128x128", image.Pt(128, 128), display.Screen{QR: emvPayload}},
	{"blank_128x64", panel, display.Screen{}},
}

func TestGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.name, func(t *testing.T) {
			img, err := Screen(g.screen, g.size)
			if err != nil {
				t.Fatal(err)
			}
			if img.Rect.Size() != g.size {
				t.Fatalf("size %v, want %v", img.Rect.Size(), g.size)
			}
			for i, p := range img.Pix {
				if p != Lit.Y && p != Unlit.Y {
					t.Fatalf("pixel %d is %d, neither lit nor unlit", i, p)
				}
			}
			path := filepath.Join("testdata", g.name+".png")
			if *update {
				var buf bytes.Buffer
				if err := png.Encode(&buf, img); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			defer f.Close()
			want, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if want.Bounds() != img.Rect {
				t.Fatalf("golden is %v, rendered %v", want.Bounds(), img.Rect)
			}
			diff := 0
			for y := 0; y < g.size.Y; y++ {
				for x := 0; x < g.size.X; x++ {
					r, _, _, _ := want.At(x, y).RGBA()
					if (r >= 0x8000) != (img.GrayAt(x, y).Y >= 0x80) {
						diff++
					}
				}
			}
			if diff != 0 {
				t.Errorf("%d pixels differ from %s (look at it, then go test -update if the change is wanted)", diff, path)
			}
		})
	}
}

// TestScans decodes the rendered panel with ZXing's QR reader: the image as
// the panel shows it, with text beside the code and dark all around.
func TestScans(t *testing.T) {
	for _, g := range goldens {
		if g.screen.QR == "" {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			img, err := Screen(g.screen, g.size)
			if err != nil {
				t.Fatal(err)
			}
			if got := decode(t, img); got != g.screen.QR {
				t.Fatalf("decoded %q, want %q", got, g.screen.QR)
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
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("rendered QR does not scan: %v", err)
	}
	return res.GetText()
}

func TestEMVFits64(t *testing.T) {
	if len(emvPayload) < 150 {
		t.Fatalf("payload is %d characters, want a realistic 150+", len(emvPayload))
	}
	code, err := Code(emvPayload, 64)
	if err != nil {
		t.Fatal(err)
	}
	// Version 9 (53 modules) plus two quiet zones of 4, at one pixel a module.
	if got := code.Rect.Dx(); got != 61 {
		t.Fatalf("EMV symbol with quiet zone is %d px, want 61", got)
	}
	code, err = Code(emvPayload, 128)
	if err != nil {
		t.Fatal(err)
	}
	if got := code.Rect.Dx(); got != 122 {
		t.Fatalf("EMV symbol on 128 px is %d px, want 122 (2 px a module)", got)
	}
}

func TestUTF8Payload(t *testing.T) {
	p := "商户:最佳运输 CNY 23.72"
	img, err := Screen(display.Screen{QR: p}, panel)
	if err != nil {
		t.Fatal(err)
	}
	if got := decode(t, img); got != p {
		t.Fatalf("decoded %q, want %q", got, p)
	}
}

func TestQuietZone(t *testing.T) {
	img, err := Screen(display.Screen{QR: "12345678", Lines: []string{"x"}}, panel)
	if err != nil {
		t.Fatal(err)
	}
	// Version 1 is 21 modules, 29 with quiet zones: 2 px a module on 64 px.
	const scale, side = 2, 58
	top := (64 - side) / 2
	for y := top; y < top+side; y++ {
		for x := 0; x < side; x++ {
			inZone := x < QuietZone*scale || x >= side-QuietZone*scale || y-top < QuietZone*scale || y-top >= side-QuietZone*scale
			if inZone && img.GrayAt(x, y) != Lit {
				t.Fatalf("quiet zone pixel (%d,%d) is not lit", x, y)
			}
		}
	}
	// Top-left finder pattern's outer ring starts dark right after the zone.
	if img.GrayAt(QuietZone*scale, top+QuietZone*scale) != Unlit {
		t.Fatal("finder pattern corner is not dark")
	}
	// Above and below the symbol, and in the gap, the panel is unlit.
	for x := 0; x < side+Gap; x++ {
		if img.GrayAt(x, 0) != Unlit || img.GrayAt(x, 63) != Unlit {
			t.Fatalf("pixel at column %d outside the symbol is lit", x)
		}
	}
}

func TestFit(t *testing.T) {
	tests := []struct {
		in   string
		cols int
		want string
	}{
		{"CNY 12.50", 9, "CNY 12.50"},
		{"CNY 128.50", 9, "CNY 128.>"},
		{"", 9, ""},
		{"abc", 0, ""},
		{"Payé", 9, "Paye"},
		{"Ça coûte", 9, "Ca coute"},
		{"Straße œ", 9, "Stra\ufffde \ufffd"},
		{"e\u0301", 9, "e\ufffd"},
		{"谢谢", 9, "\ufffd\ufffd"},
		{"a\x00b\nc\x7f", 9, "a\ufffdb\ufffdc\ufffd"},
		{"\xff\xfe", 9, "\ufffd\ufffd"},
		{strings.Repeat("9", 10<<20), 9, "99999999>"},
	}
	for _, tt := range tests {
		if got := string(Fit(tt.in, tt.cols)); got != tt.want {
			t.Errorf("Fit(%.20q, %d) = %q, want %q", tt.in, tt.cols, got, tt.want)
		}
	}
}

func TestHostile(t *testing.T) {
	junk := strings.Repeat("\x00\xff junk", 1<<20) // 10 MB
	tests := []struct {
		name   string
		screen display.Screen
		size   image.Point
		want   error  // errors.Is target, or nil
		substr string // in the message
	}{
		{"zero size", display.Screen{}, image.Pt(0, 64), nil, "bad panel size"},
		{"negative size", display.Screen{}, image.Pt(128, -1), nil, "bad panel size"},
		{"huge size", display.Screen{}, image.Pt(1<<20, 1<<20), nil, "bad panel size"},
		{"payload over QR capacity", display.Screen{QR: strings.Repeat("A", MaxPayload+1)}, panel, ErrTooBig, "at most 2953"},
		{"10 MB payload", display.Screen{QR: junk}, panel, ErrTooBig, "bytes"},
		{"payload too big for 64 px", display.Screen{QR: strings.Repeat("x", 200)}, panel, ErrTooBig, "panel has 64 pixels"},
		{"payload too big for 32 px", display.Screen{QR: emvPayload}, image.Pt(128, 32), ErrTooBig, "panel has 32 pixels"},
		{"invalid UTF-8 payload", display.Screen{QR: "pay\xff"}, panel, nil, "not valid UTF-8"},
		{"five lines on 64 px", display.Screen{Lines: []string{"1", "2", "3", "4", "5"}}, panel, ErrTooManyLines, "holds 4"},
		{"million lines", display.Screen{Lines: make([]string, 1<<20)}, panel, ErrTooManyLines, "holds 4"},
		{"square panel with lines", display.Screen{QR: "12345678", Lines: []string{"CNY 1"}}, image.Pt(64, 64), ErrNoRoom, "64x64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Screen(tt.screen, tt.size)
			if err == nil {
				t.Fatalf("no error, image %v", img.Rect)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v is not %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("error %q does not say %q", err, tt.substr)
			}
		})
	}
	// A 10 MB line is cut, not refused.
	if _, err := Screen(display.Screen{Lines: []string{junk}}, panel); err != nil {
		t.Fatalf("10 MB line: %v", err)
	}
}

// FuzzScreen renders arbitrary screens: it must never panic, and what it
// renders must be one-bit, the panel's size, and scan back when it has a QR.
// The image is magnified three times before decoding, as a phone's camera
// sees the panel: ZXing's finder-pattern search misses some small symbols
// drawn at one pixel a module (a 29-pixel version 1 on a 32-pixel panel),
// which says nothing about the modules being right.
func FuzzScreen(f *testing.F) {
	f.Add(emvPayload, "CNY 128.50", "Scan", 128, 64)
	f.Add("", "", "", 128, 32)
	f.Add("12345678", "谢谢\x00", "\xff", 64, 64)
	f.Add(strings.Repeat("A", 200), "x", "y", 8, 8)
	f.Add("é", strings.Repeat("long", 100), "", 256, 128)
	f.Fuzz(func(t *testing.T, qr, l1, l2 string, w, h int) {
		w, h = w%300, h%300
		size := image.Pt(w, h)
		s := display.Screen{QR: qr, Lines: []string{l1, l2}}
		img, err := Screen(s, size)
		if err != nil {
			return
		}
		if img.Rect.Size() != size {
			t.Fatalf("size %v, want %v", img.Rect.Size(), size)
		}
		for _, p := range img.Pix {
			if p != Lit.Y && p != Unlit.Y {
				t.Fatalf("pixel %d", p)
			}
		}
		if qr == "" {
			return
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(magnify(img, 3))
		if err != nil {
			t.Fatal(err)
		}
		res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
		if err != nil {
			t.Fatalf("QR %q on %v does not scan: %v", qr, size, err)
		}
		if res.GetText() != qr {
			t.Fatalf("decoded %q, want %q", res.GetText(), qr)
		}
	})
}

// magnify scales src k times, nearest neighbour.
func magnify(src *image.Gray, k int) *image.Gray {
	b := src.Rect
	dst := image.NewGray(image.Rect(0, 0, b.Dx()*k, b.Dy()*k))
	for y := range dst.Rect.Dy() {
		for x := range dst.Rect.Dx() {
			dst.Pix[y*dst.Stride+x] = src.Pix[src.PixOffset(b.Min.X+x/k, b.Min.Y+y/k)]
		}
	}
	return dst
}

// TestStatusShownAfterTheLines: a text panel shows the status key as the
// last line, as it showed the status word before the key existed.
func TestStatusShownAfterTheLines(t *testing.T) {
	size := image.Pt(128, 64)
	withKey, err := Screen(display.Screen{Lines: []string{"12.34 CNY"}, Status: "approved"}, size)
	if err != nil {
		t.Fatal(err)
	}
	asLine, err := Screen(display.Screen{Lines: []string{"12.34 CNY", "approved"}}, size)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(withKey.Pix, asLine.Pix) {
		t.Fatal("the status key is not drawn as the last line")
	}
	bare, _ := Screen(display.Screen{Lines: []string{"12.34 CNY"}}, size)
	if bytes.Equal(withKey.Pix, bare.Pix) {
		t.Fatal("the status key is not drawn")
	}
}
