package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/internal/tpmtest"
)

// The daemon opens its identity key at start and `guichet status` says
// where it lives: without a TPM, in a file, the weaker kind; with a TPM
// (here swtpm), in the TPM.
func TestStatusReportsTheIdentityKind(t *testing.T) {
	r := NewRig(t)
	r.StartDaemon()
	if out := r.Run("guichet", "--config", r.DevConf, "status"); !strings.Contains(out, "identity file (the weaker kind") {
		t.Fatalf("status without a TPM:\n%s", out)
	}
	fi, err := os.Stat(filepath.Join(r.Dir, "device", "identity.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity key file: %v %v", fi, err)
	}
	r.StopDaemon()

	p := tpmtest.Start(t)
	conf, err := os.ReadFile(r.DevConf)
	if err != nil {
		t.Fatal(err)
	}
	write(t, r.DevConf, string(conf)+fmt.Sprintf("identity: {kind: tpm, tpm_address: %q}\n", p.Addr))
	r.StartDaemon()
	if out := r.Run("guichet", "--config", r.DevConf, "status"); !strings.Contains(out, "identity tpm (the key cannot leave the TPM)") {
		t.Fatalf("status with a TPM:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "device", "identity.tpmkey")); err != nil {
		t.Fatal(err)
	}
}
