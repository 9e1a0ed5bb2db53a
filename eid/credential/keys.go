package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/guichet/guichet/eid/credential/cose"
)

// KeyID returns the key id guichet gives a public key: the first 8 bytes of
// the SHA-256 of its SubjectPublicKeyInfo (RFC 5280 section 4.1), as the DCC
// derives kids from certificates. Platform and devices compute the same kid
// from the same key.
func KeyID(pub crypto.PublicKey) ([]byte, error) {
	if _, err := cose.AlgorithmFor(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("eid: key id: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:8], nil
}

// GenerateKey makes a private key for alg: ES256 (P-256) or EdDSA (Ed25519).
func GenerateKey(alg cose.Algorithm) (crypto.Signer, error) {
	switch alg {
	case cose.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case cose.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("eid: unsupported algorithm %s", alg)
}

// MarshalPublicKeyPEM encodes pub as a PEM "PUBLIC KEY" block
// (SubjectPublicKeyInfo), the form the root key is provisioned in.
func MarshalPublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	if _, err := cose.AlgorithmFor(pub); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("eid: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM decodes a PEM "PUBLIC KEY" block holding a P-256 or
// Ed25519 key.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, errors.New("eid: no PEM PUBLIC KEY block")
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("eid: public key: %w", err)
	}
	if _, err := cose.AlgorithmFor(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// MarshalPrivateKeyPEM encodes k as a PEM "PRIVATE KEY" block (PKCS #8), for
// the reference platform and demos; a real platform keeps its keys in an
// HSM.
func MarshalPrivateKeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("eid: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes a PEM "PRIVATE KEY" block holding a P-256 or
// Ed25519 key.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, errors.New("eid: no PEM PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("eid: private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("eid: %T is not a signing key", k)
	}
	if _, err := cose.AlgorithmFor(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}
