package codescan

import (
	"image"
	"testing"

	"gocv.io/x/gocv"
)

// FuzzDecodeImage decodes arbitrary bytes as an image file and runs the
// camera-mode Decoder on whatever OpenCV makes of them: no input may crash
// the process or yield a code that fails its format's checks.
func FuzzDecodeImage(f *testing.F) {
	frame := cameraFrame(f, "FUZZ-1234", 7)
	small := frame.Region(image.Rect(400, 160, 780, 560))
	for _, ext := range []gocv.FileExt{gocv.PNGFileExt, gocv.JPEGFileExt} {
		buf, err := gocv.IMEncode(ext, small)
		if err != nil {
			f.Fatal(err)
		}
		b := buf.GetBytes()
		f.Add(append([]byte(nil), b...))
		f.Add(append([]byte(nil), b[:len(b)/2]...)) // truncated
		buf.Close()
	}
	small.Close()
	frame.Close()
	f.Add([]byte{})
	f.Add([]byte("\x89PNG\r\n\x1a\n garbage"))
	d, err := NewDecoder(Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { d.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		img, err := gocv.IMDecode(data, gocv.IMReadUnchanged)
		if err != nil || img.Empty() {
			return
		}
		defer img.Close()
		// Guard against decompression bombs: a camera frame is far smaller.
		if img.Cols()*img.Rows() > 2000*2000 {
			return
		}
		syms, err := d.Decode(img)
		if err != nil {
			return
		}
		for _, s := range syms {
			if !ValidText(s.Format, s.Text) {
				t.Fatalf("reported invalid %s %q", s.Format, s.Text)
			}
		}
	})
}
