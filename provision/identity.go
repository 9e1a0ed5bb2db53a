package provision

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/guichet/guichet/config"
)

// fileKey is an identity key in a file (temporary, see OpenIdentity).
type fileKey struct{ *ecdsa.PrivateKey }

func (fileKey) Kind() string { return "file" }

// OpenIdentity opens the device's identity key as the configuration says,
// for `guichet provision` and guichetd alike; the returned function
// releases it.
//
// TEMPORARY: a PKCS#8 file in the state directory, until
// provision/identity (the TPM) is on main.
func OpenIdentity(_ context.Context, cfg *config.Daemon) (Key, func(), error) {
	path := filepath.Join(cfg.StateDir, "identity.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, nil, err
		}
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, nil, err
		}
		return fileKey{k}, func() {}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, nil, fmt.Errorf("%s: not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, nil, err
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not an ECDSA key", path)
	}
	return fileKey{ek}, func() {}, nil
}
