package render

import (
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/internal/benchfig"
)

// BenchmarkRender reports render_ms_emv_128x64, the time to render the
// 158-character EMV payment screen for a 128x64 panel, next to its anchor
// zxingwriter_ms_emv_64px, ZXing's own QR writer encoding the same payload
// at level M into a 64x64 bit matrix: the difference is the layout and text.
func BenchmarkRender(b *testing.B) {
	s := display.Screen{QR: emvPayload, Lines: []string{"CNY", "128.50", "Scan to", "pay"}}
	w := qrcode.NewQRCodeWriter()
	hints := map[gozxing.EncodeHintType]any{gozxing.EncodeHintType_ERROR_CORRECTION: "M"}
	const n = 200
	for i := 0; i < b.N; i++ {
		anchor := benchfig.MedianMs(n, func() {
			if _, err := w.Encode(emvPayload, gozxing.BarcodeFormat_QR_CODE, 64, 64, hints); err != nil {
				b.Fatal(err)
			}
		})
		render := benchfig.MedianMs(n, func() {
			if _, err := Screen(s, panel); err != nil {
				b.Fatal(err)
			}
		})
		benchfig.Report(b, "zxingwriter_ms_emv_64px", anchor, "ms")
		benchfig.Report(b, "render_ms_emv_128x64", render, "ms")
	}
}

// BenchmarkCapacity reports qr_max_bytes_64px and qr_max_bytes_32px, the
// longest ASCII payload (byte mode, level M, quiet zone of 4) a 64- and a
// 32-pixel-high panel shows, next to emv_payload_bytes, the example EMV
// merchant payload's length.
func BenchmarkCapacity(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchfig.Report(b, "emv_payload_bytes", float64(len(emvPayload)), "bytes")
		benchfig.Report(b, "qr_max_bytes_64px", float64(maxPayload(b, 64)), "bytes")
		benchfig.Report(b, "qr_max_bytes_32px", float64(maxPayload(b, 32)), "bytes")
	}
}

// maxPayload finds by bisection the longest payload of lower-case letters
// (byte mode) that Code draws in side pixels.
func maxPayload(b *testing.B, side int) int {
	lo, hi := 0, MaxPayload+1 // Code(lo) fits, Code(hi) does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, err := Code(strings.Repeat("x", mid), side); err == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		b.Fatalf("nothing fits %d px", side)
	}
	return lo
}
