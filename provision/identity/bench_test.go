package identity

import (
	"crypto"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/internal/tpmtest"
)

// BenchmarkSign reports the time of one signature by the TPM key (swtpm
// over loopback TCP: the software TPM's arithmetic and one round trip; a
// hardware TPM is slower, tens of milliseconds) and by the file key.
func BenchmarkSign(b *testing.B) {
	p := tpmtest.Start(b)
	tk, err := openTPM(b.Context(), tpmConfig(p, filepath.Join(b.TempDir(), "k")))
	if err != nil {
		b.Fatal(err)
	}
	defer tk.Close()
	fk, err := openFile(filepath.Join(b.TempDir(), "k.pem"))
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("bench"))
	sign := func(k crypto.Signer) func() {
		return func() {
			if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		benchfig.Report(b, "identity_sign_tpm_ms", benchfig.MedianMs(51, sign(tk)), "ms")
		benchfig.Report(b, "identity_sign_file_ms", benchfig.MedianMs(501, sign(fk)), "ms")
	}
}
