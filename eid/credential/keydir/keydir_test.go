package keydir

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guichet/guichet/eid/credential"
	"github.com/guichet/guichet/eid/credential/cose"
)

func TestOpenIssueRevoke(t *testing.T) {
	now := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "platform")
	d, err := Open(path, cose.EdDSA, now)
	if err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{RootKey: 0o600, SignerKey: 0o600, RootPub: 0o644, KeySet: 0o644, Revocations: 0o644} {
		st, err := os.Stat(filepath.Join(path, name))
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v, %v", name, st, err)
		}
	}
	cti := []byte("demo-credential-1")
	code, err := d.Issuer("demo", "").Issue(credential.Credential{ID: cti, Level: credential.Full, Subject: "S1", IssuedAt: now, Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := d.Verifier(credential.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(code, now); err != nil {
		t.Fatalf("Verify: %v", err)
	}

	// Opening again keeps the keys: the code still verifies.
	d2, err := Open(path, cose.ES256, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Revoke(cti, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	v2, err := d2.Verifier(credential.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v2.Verify(code, now.Add(2*time.Minute)); credential.ReasonOf(err) != credential.ReasonRevoked {
		t.Fatalf("after Revoke: %v", err)
	}
	// The running verifier takes the new list: its sequence is higher.
	b, _ := os.ReadFile(filepath.Join(path, Revocations))
	if seq, _, err := v.SetRevocations(b); err != nil || seq != 2 {
		t.Fatalf("SetRevocations: seq %d, %v", seq, err)
	}
	// A corrupt key file is an error, not a silent new key.
	os.WriteFile(filepath.Join(path, SignerKey), []byte("junk"), 0o600)
	if _, err := Open(path, cose.EdDSA, now); err == nil {
		t.Fatal("Open accepted a corrupt signer key")
	}
}
