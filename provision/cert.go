package provision

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/guichet/guichet/provision/identity"
)

// Key is the device's identity key (ECDSA P-256, provision/identity): it
// signs the certificate requests and the TLS handshakes. Kind says where
// it lives.
type Key interface {
	crypto.Signer
	Kind() identity.Kind
}

// ErrBadCertificate marks a certificate from the platform that the device
// will not use: not for its key, not from the CA, not for its name, or
// already expired.
var ErrBadCertificate = errors.New("bad certificate from the platform")

// newCSR makes a certificate signing request for key. The platform names
// the certificate from the code's binding, not from the request, so cn is
// only a hint for whoever reads the request.
func newCSR(key crypto.Signer, cn string) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn},
		SignatureAlgorithm: x509.ECDSAWithSHA256}, key)
	if err != nil {
		return nil, fmt.Errorf("provision: certificate request: %w", err)
	}
	return der, nil
}

// checkCert parses der and checks that it is a client certificate for pub,
// named cn, valid at now and issued by a CA in roots.
func checkCert(der []byte, pub crypto.PublicKey, roots *x509.CertPool, cn string, now time.Time) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCertificate, err)
	}
	if k, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(c.PublicKey) {
		return nil, fmt.Errorf("%w: it is for another key than the device's", ErrBadCertificate)
	}
	if c.Subject.CommonName != cn {
		return nil, fmt.Errorf("%w: it names %q, not %q", ErrBadCertificate, clip(c.Subject.CommonName), cn)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCertificate, err)
	}
	return c, nil
}

// Credentials are what the device shows the brokers: its key and the
// current certificate, which a renewal replaces while connections are up.
// TLSConfig hands the current one to each new handshake.
type Credentials struct {
	key   Key
	roots *x509.CertPool
	mu    sync.Mutex
	cert  *tls.Certificate
}

// NewCredentials checks that the enrolment's certificate is for key and
// returns the device's credentials.
func NewCredentials(e *Enrolment, key Key) (*Credentials, error) {
	if k, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(e.Cert.PublicKey) {
		return nil, fmt.Errorf("provision: the enrolment's certificate is for another key than the device's identity key (%s); enrol again with a new code", key.Kind())
	}
	c := &Credentials{key: key, roots: e.Pool}
	c.set(e.Cert)
	return c, nil
}

func (c *Credentials) set(leaf *x509.Certificate) {
	// ECDSA P-256 with SHA-256 is the one scheme a TPM key signs with.
	tc := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: c.key, Leaf: leaf,
		SupportedSignatureAlgorithms: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}}
	c.mu.Lock()
	c.cert = tc
	c.mu.Unlock()
}

// Leaf returns the current certificate.
func (c *Credentials) Leaf() *x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert.Leaf
}

// TLSConfig returns the client configuration for the brokers: the
// platform's CA as the only trust, and the current certificate, read
// again at each handshake.
func (c *Credentials) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    c.roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.cert, nil
		},
	}
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
