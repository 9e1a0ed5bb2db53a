// Package keydir keeps a reference platform's e-ID keys and signed lists in
// a directory: the root key pair, one credential-signing key, the signed key
// set and the signed revocation list. It serves demos, tests and
// `guichet eid issue`; a real platform keeps its private keys in an HSM.
//
// The files are the ones a device is provisioned and synced with: RootPub
// goes to /etc/guichet/eid-root.pem, KeySet and Revocations to
// /var/lib/guichet/eid/.
package keydir

import (
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/guichet/guichet/eid/credential"
	"github.com/guichet/guichet/eid/credential/cose"
	"github.com/guichet/guichet/internal/atomicfile"
)

// File names inside the directory.
const (
	RootKey     = "root.key"         // PKCS #8 PEM, mode 0600
	RootPub     = "root.pem"         // SubjectPublicKeyInfo PEM
	SignerKey   = "signer.key"       // PKCS #8 PEM, mode 0600
	KeySet      = "keyset.cose"      // COSE_Sign1 by the root
	Revocations = "revocations.cose" // COSE_Sign1 by the root
)

// KeyValidity is how far before and after its creation the signing key may
// sign, so that demos can issue codes dated in the past.
const KeyValidity = 365 * 24 * time.Hour

// Dir is an opened key directory.
type Dir struct {
	Path   string
	Root   crypto.Signer
	Signer crypto.Signer
}

// Open loads the key directory at path, creating what is missing: the
// directory (mode 0700), keys of algorithm alg, a key set listing the
// signing key from now-KeyValidity to now+KeyValidity, and an empty
// revocation list. Existing keys are kept, whatever their algorithm.
func Open(path string, alg cose.Algorithm, now time.Time) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("keydir: %w", err)
	}
	d := &Dir{Path: path}
	var err error
	var createdRoot, createdSigner bool
	if d.Root, createdRoot, err = loadOrCreate(filepath.Join(path, RootKey), alg); err != nil {
		return nil, err
	}
	if d.Signer, createdSigner, err = loadOrCreate(filepath.Join(path, SignerKey), alg); err != nil {
		return nil, err
	}
	pub, err := credential.MarshalPublicKeyPEM(d.Root.Public())
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(filepath.Join(path, RootPub), pub, 0o644); err != nil {
		return nil, fmt.Errorf("keydir: %w", err)
	}
	_, err = os.Stat(filepath.Join(path, KeySet))
	if createdRoot || createdSigner || errors.Is(err, fs.ErrNotExist) {
		kid, err := credential.KeyID(d.Signer.Public())
		if err != nil {
			return nil, err
		}
		signed, err := credential.SignKeySet(d.Root, credential.KeySet{
			Seq: uint64(now.Unix()), IssuedAt: now, // a new root starts anew; seconds keep a rebuilt set ahead
			Keys: []credential.Key{{ID: kid, Public: d.Signer.Public(), NotBefore: now.Add(-KeyValidity), NotAfter: now.Add(KeyValidity)}},
		})
		if err != nil {
			return nil, err
		}
		if err := atomicfile.Write(filepath.Join(path, KeySet), signed, 0o644); err != nil {
			return nil, fmt.Errorf("keydir: %w", err)
		}
	}
	_, err = os.Stat(filepath.Join(path, Revocations))
	if createdRoot || errors.Is(err, fs.ErrNotExist) {
		if err := d.writeRevocations(credential.RevocationList{Seq: 1, IssuedAt: now}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func loadOrCreate(path string, alg cose.Algorithm) (k crypto.Signer, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := credential.ParsePrivateKeyPEM(b)
		if err != nil {
			return nil, false, fmt.Errorf("keydir: %s: %w", path, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("keydir: %w", err)
	}
	if k, err = credential.GenerateKey(alg); err != nil {
		return nil, false, err
	}
	pemKey, err := credential.MarshalPrivateKeyPEM(k)
	if err != nil {
		return nil, false, err
	}
	if err := atomicfile.Write(path, pemKey, 0o600); err != nil {
		return nil, false, fmt.Errorf("keydir: %w", err)
	}
	return k, true, nil
}

// Issuer returns an Issuer signing with the directory's signing key.
func (d *Dir) Issuer(name, prefix string) *credential.Issuer {
	return &credential.Issuer{Signer: d.Signer, Name: name, Prefix: prefix}
}

// Revoke adds the credential with cti id to the revocation list and signs
// it again with the next sequence number.
func (d *Dir) Revoke(cti []byte, now time.Time) error {
	b, err := os.ReadFile(filepath.Join(d.Path, Revocations))
	if err != nil {
		return fmt.Errorf("keydir: %w", err)
	}
	rl, err := credential.ParseRevocations(b, d.Root.Public())
	if err != nil {
		return fmt.Errorf("keydir: %w", err)
	}
	rl.Seq++
	rl.IssuedAt = now
	rl.Revoke(cti)
	return d.writeRevocations(*rl)
}

func (d *Dir) writeRevocations(rl credential.RevocationList) error {
	signed, err := credential.SignRevocations(d.Root, rl)
	if err != nil {
		return err
	}
	// Replaced atomically, so that a verifier never reads half a list.
	if err := atomicfile.Write(filepath.Join(d.Path, Revocations), signed, 0o644); err != nil {
		return fmt.Errorf("keydir: %w", err)
	}
	return nil
}

// Verifier returns a verifier loaded from the directory's public files, as
// a device would be.
func (d *Dir) Verifier(opts credential.Options) (*credential.Verifier, error) {
	return credential.LoadVerifier(filepath.Join(d.Path, RootPub), filepath.Join(d.Path, KeySet), filepath.Join(d.Path, Revocations), opts)
}
