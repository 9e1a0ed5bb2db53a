package face

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"gocv.io/x/gocv"
)

func encodePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodePhoto(t *testing.T) {
	good := encodePNG(t, 120, 160)
	jpg := encodeJPEG(t, 100, 130)
	// A PNG whose header claims 100000×100000 pixels: a decompression bomb.
	bomb := append([]byte(nil), good...)
	copy(bomb[16:24], []byte{0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0})
	for _, tc := range []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"png", good, true},
		{"jpeg", jpg, true},
		{"empty", nil, false},
		{"truncated png", good[:len(good)/2], false},
		{"truncated jpeg", jpg[:len(jpg)/3], false},
		{"header only", good[:8], false},
		{"garbage", []byte("this is not a picture at all"), false},
		{"jpeg magic then garbage", append([]byte{0xFF, 0xD8, 0xFF}, bytes.Repeat([]byte{0x42}, 1000)...), false},
		{"10 MB of junk", bytes.Repeat([]byte{0xFF, 0xD8, 0xFF, 0x00}, 10<<18), false},
		{"tiny", encodePNG(t, 8, 8), false},
		{"oversized header", bomb, false},
		{"jp2", append([]byte{0, 0, 0, 0x0C, 'j', 'P', ' ', ' '}, good...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodePhoto(tc.b)
			defer m.Close()
			if tc.ok {
				if err != nil || m.Empty() || m.Type() != gocv.MatTypeCV8UC3 {
					t.Fatalf("DecodePhoto: %v (empty %v)", err, m.Empty())
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrPhoto) {
				t.Errorf("error %v does not wrap ErrPhoto", err)
			}
		})
	}
}

func FuzzDecodePhoto(f *testing.F) {
	f.Add(encodePNG(f, 40, 48))
	f.Add(encodeJPEG(f, 40, 48))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE0})
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodePhoto(b)
		defer m.Close()
		if err == nil && (m.Empty() || m.Cols() < minPhotoSide || m.Rows() > MaxPhotoSide) {
			t.Fatalf("accepted a %dx%d picture", m.Cols(), m.Rows())
		}
		if err != nil && !errors.Is(err, ErrPhoto) {
			t.Fatalf("error %v does not wrap ErrPhoto", err)
		}
	})
}
