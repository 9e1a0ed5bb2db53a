package selftest

import (
	"image/png"
	"io"

	"github.com/guichet/guichet/internal/qr"
)

// WriteCard writes the test card, the QR code of TestCard, as a PNG of
// scale pixels a module, for printing or showing on a phone in front of
// a camera.
func WriteCard(w io.Writer, scale int) error {
	m, err := qr.Encode(TestCard)
	if err != nil {
		return err
	}
	return png.Encode(w, m.Image(scale))
}
