package codescan

import (
	"image"
	"sort"
	"strings"
	"testing"

	"gocv.io/x/gocv"
)

// TestDataset runs the Decoder over every test set and fails if a set
// decodes fewer codes than measured when this test was written, or if any
// code is reported on the negative sets.
func TestDataset(t *testing.T) {
	// Minimum correct decodes per set, camera mode and thorough mode.
	minimum := map[string][2]int{
		"code128-1": {6, 6}, "code128-2": {13, 13}, "code128-3": {2, 2},
		"ean13-1": {14, 14}, "ean13-2": {8, 8}, "ean13-3": {8, 8}, "ean13-4": {16, 16},
		"ean8-1": {8, 8}, "upca-1": {5, 5},
		"qrcode-1": {8, 8}, "qrcode-2": {46, 52}, "qrcode-3": {14, 16}, "qrcode-4": {15, 17},
		"qrcode-5": {16, 16}, "qrcode-6": {15, 15},
		"falsepositives-1": {0, 0}, "falsepositives-2": {0, 0},
	}
	samples := dataset(t)
	for mode, opts := range []Options{{}, {Thorough: true}} {
		name := map[bool]string{false: "camera", true: "thorough"}[opts.Thorough]
		t.Run(name, func(t *testing.T) {
			d, err := NewDecoder(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			sets := runDecoder(t, d, samples)
			var names []string
			for n := range sets {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, set := range names {
				s := sets[set]
				want, ok := minimum[set]
				if !ok {
					t.Errorf("set %s has no minimum in this test", set)
					continue
				}
				if s.correct < want[mode] {
					t.Errorf("%s: %d of %d decoded, want at least %d", set, s.correct, s.images, want[mode])
				}
				if s.falseCodes > 0 {
					t.Errorf("%s: %d false codes:\n%s", set, s.falseCodes, strings.Join(s.wrong, "\n"))
				}
				t.Logf("%s: %d/%d, %d misreads", set, s.correct, s.images, s.misreads)
			}
			// Misreads on positive images are codes really printed there
			// but not the one the set expects: qrcode-2/16 holds two QR
			// codes, and ean13-2/23 and 28 show 9784872348880, not the
			// text their .txt files give. Anything else is a wrong code.
			known := []string{"qrcode-2/16.png", "ean13-2/23.png", "ean13-2/28.png"}
			for _, s := range sets {
				for _, w := range s.wrong {
					if !containsAny(w, known) {
						t.Errorf("wrong code: %s", w)
					}
				}
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestDecodeCameraFrame decodes a synthetic 720p frame with a phone
// showing a QR code (perspective, blur and noise) and one without.
func TestDecodeCameraFrame(t *testing.T) {
	d, err := NewDecoder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const text = "134567890123456789"
	for seed := range uint64(4) {
		f := cameraFrame(t, text, seed)
		syms, err := d.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(syms) != 1 || syms[0].Format != QRCode || syms[0].Text != text {
			t.Fatalf("seed %d: got %+v, want one QR_CODE %q", seed, syms, text)
		}
		if sz := syms[0].Size(); sz < 250 || sz > 350 {
			t.Errorf("seed %d: code size %.0f px, want about 300 (the code's diagonal in the frame)", seed, sz)
		}
		e := cameraFrame(t, "", seed)
		syms, err = d.Decode(e)
		e.Close()
		if err != nil || len(syms) != 0 {
			t.Fatalf("seed %d: empty frame gave %+v, %v", seed, syms, err)
		}
	}
}

// TestDecodeHostileImages feeds images no camera should produce: they must
// give clear errors or no codes, never a crash.
func TestDecodeHostileImages(t *testing.T) {
	d, err := NewDecoder(Options{Thorough: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cases := []struct {
		name    string
		img     func() gocv.Mat
		wantErr string
	}{
		{"empty", gocv.NewMat, "empty image"},
		{"1x1", func() gocv.Mat { return gocv.NewMatWithSize(1, 1, gocv.MatTypeCV8UC3) }, ""},
		{"7x5000", func() gocv.Mat { return gocv.NewMatWithSize(7, 5000, gocv.MatTypeCV8UC1) }, ""},
		{"float", func() gocv.Mat { return gocv.NewMatWithSize(64, 64, gocv.MatTypeCV32F) }, "not 8-bit"},
		{"16-bit", func() gocv.Mat { return gocv.NewMatWithSize(64, 64, gocv.MatTypeCV16UC1) }, "not 8-bit"},
		{"2-channel", func() gocv.Mat { return gocv.NewMatWithSize(64, 64, gocv.MatTypeCV8UC2) }, "not 8-bit"},
		{"white 4000x3000", func() gocv.Mat {
			return gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 255, 255, 0), 3000, 4000, gocv.MatTypeCV8UC3)
		}, ""},
		{"noise 10 MB", func() gocv.Mat {
			m := gocv.NewMatWithSize(1830, 1830, gocv.MatTypeCV8UC3)
			gocv.RandU(&m, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(256, 256, 256, 0))
			return m
		}, ""},
		{"stripes", func() gocv.Mat {
			m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), 200, 600, gocv.MatTypeCV8UC1)
			for x := 0; x < 600; x += 6 {
				gocv.Rectangle(&m, image.Rect(x, 0, x+3, 200), black, -1)
			}
			return m
		}, ""},
		{"roi", func() gocv.Mat {
			big := cameraFrame(t, "ROI", 3)
			return big.Region(image.Rect(401, 173, 777, 541))
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := c.img()
			defer img.Close()
			syms, err := d.Decode(img)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, %v; want error %q", syms, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "roi" {
				if len(syms) != 1 || syms[0].Text != "ROI" {
					t.Fatalf("got %+v from a region of a frame, want the QR code", syms)
				}
				return
			}
			if len(syms) != 0 {
				t.Fatalf("found %+v in an image with no code", syms)
			}
		})
	}
	d.Close()
	if _, err := d.Decode(gocv.NewMatWithSize(10, 10, gocv.MatTypeCV8UC1)); err != ErrClosed {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}

func TestNewDecoderFormats(t *testing.T) {
	if _, err := NewDecoder(Options{Formats: []string{"QR_CODE", "DATA_MATRIX"}}); err == nil || !strings.Contains(err.Error(), "DATA_MATRIX") {
		t.Fatalf("unknown format: %v", err)
	}
	d, err := NewDecoder(Options{Formats: []string{Code128}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f := cameraFrame(t, "only QR here", 2)
	defer f.Close()
	if syms, err := d.Decode(f); err != nil || len(syms) != 0 {
		t.Fatalf("a Code 128 decoder read %+v, %v in a QR frame", syms, err)
	}
}
