package credential

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/guichet/guichet/eid/credential/cose"
	qrcode "github.com/yeqown/go-qrcode/v2"
)

// qrVersion returns the version of the smallest QR code holding text in
// alphanumeric mode at error correction level ec.
func qrVersion(t *testing.T, text string, ec qrcode.EncodeOption) int {
	t.Helper()
	q, err := qrcode.NewWith(text, qrcode.WithEncodingMode(qrcode.EncModeAlphanumeric), ec)
	if err != nil {
		t.Fatalf("QR code of %d characters: %v", len(text), err)
	}
	// ISO/IEC 18004 section 5.3.1: a version-V symbol is 17+4V modules wide.
	return (q.Dimension() - 17) / 4
}

// TestFitsAPhoneQR checks that a typical full e-ID code is a QR code of
// version 10 or less (57 modules: readable on a phone screen across a
// counter) at error correction level M, in alphanumeric mode.
func TestFitsAPhoneQR(t *testing.T) {
	p := newPlatform(t, Options{})
	for _, alg := range []cose.Algorithm{cose.ES256, cose.EdDSA} {
		text := p.issue(t, alg, typical())
		for i, r := range text {
			if !strings.ContainsRune(qrAlphanumeric, r) {
				t.Fatalf("%s: character %q at %d is not QR alphanumeric", alg, r, i)
			}
		}
		v := qrVersion(t, text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
		t.Logf("%s: %d characters, QR version %d at level M", alg, len(text), v)
		if v < 1 || v > 10 {
			t.Errorf("%s: %d characters need QR version %d at level M, want <= 10", alg, len(text), v)
		}
	}
}

// TestNoOpenCV checks that verifying codes does not link OpenCV: the code
// verifier runs on devices and in tools without a camera stack.
func TestNoOpenCV(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".", "./base45", "./cose").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "gocv.io/") || dep == "C" {
			t.Errorf("package depends on %s", dep)
		}
	}
	if !strings.Contains(string(out), "github.com/fxamacker/cbor/v2") {
		t.Fatalf("go list output does not look like a dependency list:\n%s", out)
	}
}
