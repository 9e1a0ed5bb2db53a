package face

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"

	"gocv.io/x/gocv"
)

// Bounds on a card photo. ICAO 9303 part 9 portraits are small (a few tens
// of kilobytes, a few hundred pixels a side); the bounds leave room for
// scanned photos while keeping a hostile file from making OpenCV allocate
// gigabytes.
const (
	MaxPhotoBytes = 4 << 20
	MaxPhotoSide  = 4096
	minPhotoSide  = 32
)

// ErrPhoto reports a card photo that cannot be used.
var ErrPhoto = errors.New("face: card photo")

// DecodePhoto decodes a JPEG or PNG card photo into a BGR Mat. It reads the
// header with Go's decoders first and hands the bytes to OpenCV only when
// the format and the dimensions are within bounds. The caller closes the
// Mat (and should wipe it with its pixels first, see Session).
func DecodePhoto(b []byte) (gocv.Mat, error) {
	if len(b) == 0 {
		return gocv.Mat{}, fmt.Errorf("%w: empty", ErrPhoto)
	}
	if len(b) > MaxPhotoBytes {
		return gocv.Mat{}, fmt.Errorf("%w: %d bytes, more than %d", ErrPhoto, len(b), MaxPhotoBytes)
	}
	var cfg image.Config
	var err error
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}):
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		cfg, err = png.DecodeConfig(bytes.NewReader(b))
	default:
		return gocv.Mat{}, fmt.Errorf("%w: not JPEG or PNG (JPEG 2000 and WLT photos must be converted by the card reader)", ErrPhoto)
	}
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("%w: header: %v", ErrPhoto, err)
	}
	if cfg.Width < minPhotoSide || cfg.Height < minPhotoSide || cfg.Width > MaxPhotoSide || cfg.Height > MaxPhotoSide {
		return gocv.Mat{}, fmt.Errorf("%w: %dx%d pixels, outside %d-%d", ErrPhoto, cfg.Width, cfg.Height, minPhotoSide, MaxPhotoSide)
	}
	m, err := gocv.IMDecode(b, gocv.IMReadColor)
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("%w: %v", ErrPhoto, err)
	}
	if m.Empty() {
		m.Close()
		return gocv.Mat{}, fmt.Errorf("%w: OpenCV could not decode it", ErrPhoto)
	}
	if m.Cols() != cfg.Width || m.Rows() != cfg.Height {
		m.Close()
		return gocv.Mat{}, fmt.Errorf("%w: decoded size %dx%d differs from the header's %dx%d", ErrPhoto, m.Cols(), m.Rows(), cfg.Width, cfg.Height)
	}
	return m, nil
}
