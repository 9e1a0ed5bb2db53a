package keys

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "device.key")
	k1, err := LoadOrCreate(p)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", st.Mode(), err)
	}
	k2, err := LoadOrCreate(p)
	if err != nil || !k1.Equal(k2) {
		t.Fatal("second load gave another key")
	}
	pub, err := LoadPublic(p + ".pub")
	if err != nil || !pub.Equal(k1.Public().(ed25519.PublicKey)) {
		t.Fatalf("public key file: %v", err)
	}
}

func TestBadKeys(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "", "junk": "not base64!!", "short": "AAAA", "long": "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ=="} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := Load(p); err == nil {
			t.Errorf("%s private key accepted", name)
		}
		if _, err := LoadPublic(p); err == nil {
			t.Errorf("%s public key accepted", name)
		}
	}
}
