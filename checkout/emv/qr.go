package emv

import (
	"fmt"
	"io"

	"github.com/guichet/guichet/internal/qr"
)

// WritePNG draws payload as a QR code at error correction level M (ISO/IEC
// 18004), with modules of width pixels and a quiet zone of four modules,
// and writes it to w as a PNG image. Level M is what payment apps expect of
// a printed or on-screen code: 15 % of it may be smudged or glared. The
// symbol is the one package internal/qr encodes, the same the customer
// panel draws, so the browser and the panel show one code for one payload.
func WritePNG(w io.Writer, payload string, width int) error {
	if err := qr.WritePNG(w, payload, width); err != nil {
		return fmt.Errorf("emv: %w", err)
	}
	return nil
}
