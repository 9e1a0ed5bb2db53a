package emv

import (
	"fmt"
	"io"

	qrcode "github.com/yeqown/go-qrcode/v2"
	"github.com/yeqown/go-qrcode/writer/standard"
)

// WritePNG draws payload as a QR code in byte mode at error correction
// level M (ISO/IEC 18004), with modules of width pixels, and writes it to w
// as a PNG image. Level M is what payment apps expect of a printed or
// on-screen code: 15 % of it may be smudged or glared.
func WritePNG(w io.Writer, payload string, width int) error {
	if width < 1 || width > 255 {
		return fmt.Errorf("emv: module width %d pixels, want 1-255", width)
	}
	qr, err := qrcode.NewWith(payload,
		qrcode.WithEncodingMode(qrcode.EncModeByte),
		qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return fmt.Errorf("emv: encode QR code: %w", err)
	}
	sw := standard.NewWithWriter(nopCloser{w},
		standard.WithBuiltinImageEncoder(standard.PNG_FORMAT),
		standard.WithQRWidth(uint8(width)))
	if err := qr.Save(sw); err != nil {
		return fmt.Errorf("emv: draw QR code: %w", err)
	}
	return nil
}

// nopCloser keeps the QR writer from closing the caller's w.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
