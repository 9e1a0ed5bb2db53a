package identity

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/guichet/guichet/internal/atomicfile"
)

// maxKeyFile bounds what is read of a key file: a P-256 PKCS#8 PEM is
// about 240 bytes.
const maxKeyFile = 16 << 10

// fileKey is a key of the file kind.
type fileKey struct{ priv *ecdsa.PrivateKey }

func (k *fileKey) Public() crypto.PublicKey { return &k.priv.PublicKey }
func (k *fileKey) Kind() Kind               { return KindFile }
func (k *fileKey) Close() error             { return nil }

// Sign signs a SHA-256 digest, returning an ASN.1 DER signature.
func (k *fileKey) Sign(rnd io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkDigest(digest, opts); err != nil {
		return nil, err
	}
	return k.priv.Sign(rnd, digest, opts)
}

// openFile loads the key at path, creating it if there is none.
func openFile(path string) (*fileKey, error) {
	priv, err := loadFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		if err != nil {
			return nil, err
		}
		return &fileKey{priv}, nil
	}
	priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	err = atomicfile.Create(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process made it first: use that one.
		priv, err := loadFile(path)
		if err != nil {
			return nil, err
		}
		return &fileKey{priv}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return &fileKey{priv}, nil
}

// loadFile reads the key at path, refusing a file that someone other
// than the service user could read or replace.
func loadFile(path string) (*ecdsa.PrivateKey, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	if err := checkPrivate(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", path, err)
	}
	priv, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return priv, nil
}

// checkPrivate refuses a key file that is not a regular file of the
// service user's, with no permission for group or others.
func checkPrivate(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("identity: %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("identity: %s has mode %04o: group or others may read it; chmod 600 it, and consider the key copied", path, perm)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("identity: %s belongs to uid %d, not to the service user (uid %d)", path, st.Uid, os.Geteuid())
	}
	return nil
}

// ParseKeyFile reads a key file of the file kind: one PEM block "PRIVATE
// KEY" holding a PKCS#8 ECDSA P-256 key, and nothing else.
func ParseKeyFile(data []byte) (*ecdsa.PrivateKey, error) {
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("identity: key file larger than %d bytes", maxKeyFile)
	}
	b, rest := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("identity: key file: want one PEM block PRIVATE KEY")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("identity: key file: data after the key")
	}
	if len(b.Headers) != 0 {
		return nil, errors.New("identity: key file: PEM headers (an encrypted key?) are not supported")
	}
	// x509 ignores bytes after the key's DER; a file with any is not one
	// this package wrote.
	if rest, err := asn1.Unmarshal(b.Bytes, new(asn1.RawValue)); err != nil || len(rest) != 0 {
		return nil, errors.New("identity: key file: not one DER structure")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("identity: key file: %w", err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("identity: key file: want an ECDSA P-256 key, not %T", k)
	}
	return priv, nil
}
