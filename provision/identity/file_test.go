package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/config"
)

func fileConfig(path string) config.Identity {
	return config.Identity{Kind: config.IdentityFile, KeyFile: path, TPMKeyFile: path + ".tpm", TPMDevice: "/nonexistent"}
}

func TestFileKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "identity.pem")
	k, err := Open(context.Background(), fileConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	if k.Kind() != KindFile || !k.Kind().Weaker() {
		t.Fatalf("kind %s, want file, the weaker", k.Kind())
	}
	signVerify(t, k, "hello")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %v, want 0700", di.Mode())
	}
	k2, err := Open(context.Background(), fileConfig(path))
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Public().(*ecdsa.PublicKey).Equal(k.Public()) {
		t.Fatal("reopened: another key")
	}
}

// A key file that anyone but the service user could read is refused, with
// the path and the mode in the error, and left as it is.
func TestFileKeyModes(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644, 0o700, 0o400} {
		t.Run(mode.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "identity.pem")
			k, err := Open(context.Background(), fileConfig(path))
			if err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(path)
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			k2, err := Open(context.Background(), fileConfig(path))
			if mode&0o077 == 0 {
				if err != nil || !k2.Public().(*ecdsa.PublicKey).Equal(k.Public()) {
					t.Fatalf("mode %v refused: %v", mode, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("mode %v accepted", mode)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), modeOctal(mode)) {
				t.Fatalf("error %q: want the path and mode %s", err, modeOctal(mode))
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Fatal("the refused file was changed")
			}
		})
	}
}

func modeOctal(m os.FileMode) string {
	const digits = "01234567"
	p := m.Perm()
	return string([]byte{'0', digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

func TestFileKeyRefusesLinksAndDirectories(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.pem")
	if _, err := Open(context.Background(), fileConfig(target)); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), fileConfig(link)); err == nil {
		t.Fatal("followed a symbolic link")
	}
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o700)
	if _, err := Open(context.Background(), fileConfig(sub)); err == nil {
		t.Fatal("opened a directory")
	}
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not a key\n"), 0o600)
	if _, err := Open(context.Background(), fileConfig(bad)); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("a file that is no key: %v", err)
	}
	if b, _ := os.ReadFile(bad); string(b) != "not a key\n" {
		t.Fatal("a bad key file was overwritten")
	}
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseKeyFile(t *testing.T) {
	p256k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsak, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	pk8 := func(k any) []byte { b, _ := x509.MarshalPKCS8PrivateKey(k); return b }
	sec1, _ := x509.MarshalECPrivateKey(p256k)
	good := pemOf("PRIVATE KEY", pk8(p256k))

	if k, err := ParseKeyFile(good); err != nil || !k.Equal(p256k) {
		t.Fatalf("good key: %v", err)
	}
	if _, err := ParseKeyFile(append(good, "\n\n"...)); err != nil {
		t.Fatalf("trailing blank lines: %v", err)
	}
	hostile := map[string][]byte{
		"empty":           nil,
		"text":            []byte("hello"),
		"NULs":            make([]byte, 300),
		"P-384":           pemOf("PRIVATE KEY", pk8(p384k)),
		"RSA":             pemOf("PRIVATE KEY", pk8(rsak)),
		"Ed25519":         pemOf("PRIVATE KEY", pk8(edk)),
		"SEC1 type":       pemOf("EC PRIVATE KEY", sec1),
		"SEC1 as PKCS#8":  pemOf("PRIVATE KEY", sec1),
		"public key":      pemOf("PUBLIC KEY", pk8(p256k)),
		"two keys":        append(append([]byte{}, good...), good...),
		"data after":      append(append([]byte{}, good...), "junk"...),
		"truncated DER":   pemOf("PRIVATE KEY", pk8(p256k)[:40]),
		"DER trailing":    pemOf("PRIVATE KEY", append(pk8(p256k), 0)),
		"encrypted":       []byte("-----BEGIN PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END PRIVATE KEY-----\n"),
		"unterminated":    good[:len(good)-20],
		"huge":            append(good, make([]byte, maxKeyFile)...),
		"bad base64":      []byte("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"),
		"empty PEM block": pemOf("PRIVATE KEY", nil),
	}
	for name, data := range hostile {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseKeyFile(data); err == nil {
				t.Fatal("accepted")
			} else if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
		})
	}
}

func FuzzParseKeyFile(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	f.Add(pemOf("PRIVATE KEY", der))
	f.Add(pemOf("PRIVATE KEY", der[:20]))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		priv, err := ParseKeyFile(data)
		if err != nil {
			return
		}
		if priv.Curve != elliptic.P256() || !priv.PublicKey.Curve.IsOnCurve(priv.X, priv.Y) {
			t.Fatalf("accepted a key off P-256")
		}
	})
}
