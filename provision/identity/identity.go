// Package identity holds the device's identity key: an ECDSA P-256 key
// made on the device, that signs its enrolment request (CSR) and then
// authenticates it in TLS with the certificate the platform issued.
//
// Two kinds of key exist. KindTPM lives in a TPM 2.0: the TPM makes it
// with fixedTPM and fixedParent set, so the TPM refuses to export or
// duplicate it; what is written to disk is the key's public part and its
// private part encrypted by the TPM under its storage key, usable by that
// TPM only. KindFile is a PKCS#8 PEM file readable only by the service
// user: anyone who can read the disk as root can copy it, which is why it
// is reported as the weaker kind.
package identity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/guichet/guichet/config"
)

// Kind says where the private key lives.
type Kind string

const (
	// KindTPM is a key inside a TPM 2.0, which cannot leave it.
	KindTPM Kind = "tpm"
	// KindFile is a key in a file readable only by the service user: the
	// weaker kind, copied by whoever copies the disk.
	KindFile Kind = "file"
)

// Weaker reports whether the key can be copied off the device.
func (k Kind) Weaker() bool { return k != KindTPM }

// Key is the device's identity key. Public returns an *ecdsa.PublicKey on
// P-256; Sign takes a SHA-256 digest and returns an ASN.1 DER signature,
// as crypto/x509 and crypto/tls expect. It is safe for concurrent use.
type Key interface {
	crypto.Signer
	// Kind says where the private key lives.
	Kind() Kind
	// Close releases the TPM (a file key has nothing to release).
	Close() error
}

// Open opens the device's identity key as cfg says, creating it on first
// use. With kind auto it uses the TPM when cfg.TPMAddress is set or the
// TPM device exists, and the key file otherwise; but when a TPM key was
// made before and the TPM is now missing, it fails rather than fall back
// to a new, weaker key.
func Open(ctx context.Context, cfg config.Identity) (Key, error) {
	switch cfg.Kind {
	case config.IdentityFile:
		return openFile(cfg.KeyFile)
	case config.IdentityTPM:
		return openTPM(ctx, cfg)
	case config.IdentityAuto, "":
		if cfg.TPMAddress != "" || exists(cfg.TPMDevice) {
			return openTPM(ctx, cfg)
		}
		if exists(cfg.TPMKeyFile) {
			return nil, fmt.Errorf("identity.tpm_device: no TPM at %s, but a TPM key was made before (%s): refusing to fall back to a file key", cfg.TPMDevice, cfg.TPMKeyFile)
		}
		return openFile(cfg.KeyFile)
	default:
		return nil, fmt.Errorf("identity.kind: unknown kind %q", cfg.Kind)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// CSR returns a PKCS#10 certificate request in DER for key, with
// commonName as its subject, signed by the key (ECDSA with SHA-256).
func CSR(key crypto.Signer, commonName string) ([]byte, error) {
	if _, err := p256(key.Public()); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:            pkix.Name{CommonName: commonName},
		SignatureAlgorithm: x509.ECDSAWithSHA256,
	}, key)
	if err != nil {
		return nil, fmt.Errorf("identity: certificate request: %w", err)
	}
	return der, nil
}

// TLSCertificate pairs key with its certificate chain (PEM, the leaf
// first), checking that the leaf certifies this key. The result offers
// ECDSA P-256 with SHA-256 only, the one scheme the TPM key signs with.
func TLSCertificate(key crypto.Signer, certChainPEM []byte) (tls.Certificate, error) {
	pub, err := p256(key.Public())
	if err != nil {
		return tls.Certificate{}, err
	}
	var c tls.Certificate
	for rest := certChainPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			c.Certificate = append(c.Certificate, b.Bytes)
		}
	}
	if len(c.Certificate) == 0 {
		return tls.Certificate{}, errors.New("identity: no CERTIFICATE in the chain")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("identity: certificate: %w", err)
	}
	if lp, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !lp.Equal(pub) {
		return tls.Certificate{}, errors.New("identity: the certificate is not for this key")
	}
	c.Leaf, c.PrivateKey = leaf, key
	c.SupportedSignatureAlgorithms = []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}
	return c, nil
}

// p256 returns pub as an ECDSA P-256 key, or an error.
func p256(pub crypto.PublicKey) (*ecdsa.PublicKey, error) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("identity: want an ECDSA P-256 key, not %T", pub)
	}
	return k, nil
}

// checkDigest refuses what the key does not sign: anything but a SHA-256
// digest.
func checkDigest(digest []byte, opts crypto.SignerOpts) error {
	if opts == nil || opts.HashFunc() != crypto.SHA256 {
		return errors.New("identity: the key signs SHA-256 digests only")
	}
	if len(digest) != crypto.SHA256.Size() {
		return fmt.Errorf("identity: a SHA-256 digest is 32 bytes, not %d", len(digest))
	}
	return nil
}
