package qr_test

import (
	"testing"

	"github.com/makiuchi-d/gozxing/qrcode/decoder"
	"github.com/makiuchi-d/gozxing/qrcode/encoder"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/internal/qr"
)

// emvPayload is the panel's example merchant-presented EMV payload (158
// bytes, alphanumeric and byte characters: byte mode, version 9-M), as in
// device/display/render's tests.
const emvPayload = "00020101021226390015com.guichet.pay0116MCH00012345678905204541153031565406128.505802CN5917GUICHET DEMO SHOP6009GUANGZHOU62260512T202611230010706TILL036304DBBF"

// BenchmarkEncode reports qr_encode_us_emv, the time Encode takes to turn
// the EMV payload into a matrix, next to its anchor gozxing_encode_us_emv,
// ZXing's encoder (the one Encode replaced) making the same matrix.
func BenchmarkEncode(b *testing.B) {
	const rounds, n = 15, 20
	for i := 0; i < b.N; i++ {
		anchor := benchfig.MedianNs(rounds, n, func() {
			if _, err := encoder.Encoder_encode(emvPayload, decoder.ErrorCorrectionLevel_M, nil); err != nil {
				b.Fatal(err)
			}
		})
		own := benchfig.MedianNs(rounds, n, func() {
			if _, err := qr.Encode(emvPayload); err != nil {
				b.Fatal(err)
			}
		})
		benchfig.Report(b, "gozxing_encode_us_emv", anchor/1e3, "us")
		benchfig.Report(b, "qr_encode_us_emv", own/1e3, "us")
	}
}
