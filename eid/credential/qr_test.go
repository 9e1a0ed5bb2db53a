package credential

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/eid/credential/cose"
	qrcode "github.com/yeqown/go-qrcode/v2"
	"github.com/yeqown/go-qrcode/writer/standard"
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

// TestQRScansBack draws a code as a phone would show it and reads it back
// with ZBar, a reader independent of the writer, then verifies what it read.
func TestQRScansBack(t *testing.T) {
	zbarimg, err := exec.LookPath("zbarimg")
	if err != nil {
		t.Fatal("zbarimg not found: apt-get install zbar-tools")
	}
	p := newPlatform(t, Options{})
	text := p.issue(t, cose.ES256, typical())
	q, err := qrcode.NewWith(text, qrcode.WithEncodingMode(qrcode.EncModeAlphanumeric),
		qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(t.TempDir(), "code.png")
	w, err := standard.New(png, standard.WithQRWidth(6), standard.WithBuiltinImageEncoder(standard.PNG_FORMAT))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Save(w); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(zbarimg, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", png).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	read := strings.TrimRight(string(out), "\n")
	if read != text {
		t.Fatalf("zbarimg read %q, wrote %q", read, text)
	}
	if _, err := p.v.Verify(read, t0); err != nil {
		t.Fatalf("Verify(scanned): %v", err)
	}
}
