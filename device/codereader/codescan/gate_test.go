package codescan

import (
	"testing"

	"gocv.io/x/gocv"
)

// cameraScenes are frames that only the passes after the first read (a
// dark-mode phone, fine or upright bars): the structure gate must let
// them through.
var cameraScenes = []scene{
	{format: QRCode, text: "https://pay.example/t/8841-2201", module: 8, angle: -20, sigma: 1.2, dark: true},
	{format: QRCode, text: "https://pay.example/t/8841-2201", module: 12, angle: -20, sigma: 1.2, dark: true},
	{format: EAN13, text: "4006381333931", module: 3, angle: 3, sigma: 1.2},
	{format: EAN13, text: "4006381333931", module: 5, angle: 88, sigma: 1.2},
}

// TestCodeLike checks the gate on both sides: empty counters are not
// worth the later passes (decode_ms_720p_empty depends on it), codes the
// later passes read are.
func TestCodeLike(t *testing.T) {
	d, err := NewDecoder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	like := func(f gocv.Mat) bool {
		gocv.CvtColor(f, &d.gray, gocv.ColorBGRToGray)
		f.Close()
		return d.codeLike(d.gray.Cols(), d.gray.Rows())
	}
	for seed := range uint64(8) {
		if like(cameraFrame(t, "", seed)) {
			t.Errorf("empty frame %d passes the gate", seed)
		}
		if !like(cameraFrame(t, "134567890123456789", seed)) {
			t.Errorf("frame %d with a QR code does not pass the gate", seed)
		}
	}
	for _, s := range cameraScenes {
		for seed := range uint64(3) {
			if !like(sceneFrame(t, s, seed)) {
				t.Errorf("%v, seed %d: does not pass the gate", s, seed)
			}
		}
	}
}

// TestDecodeCameraScenes decodes codes in 720p frames that need the
// passes after the first: inverted, fine and blurred, upright.
func TestDecodeCameraScenes(t *testing.T) {
	d, err := NewDecoder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, s := range cameraScenes {
		for seed := range uint64(3) {
			f := sceneFrame(t, s, seed)
			syms, err := d.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(syms) != 1 || syms[0].Format != s.format || syms[0].Text != s.text {
				t.Errorf("%v, seed %d: got %+v, want one %s %q", s, seed, syms, s.format, s.text)
			}
		}
	}
}
