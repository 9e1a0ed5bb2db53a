package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/tpmtest"
)

// testCA is a certificate authority that issues certificates for CSRs, as
// the platform's enrolment will.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{key, cert, pool}
}

// issue checks the CSR's signature and returns a PEM certificate for its
// key, usable as usage says.
func (ca *testCA) issue(t *testing.T, csrDER []byte, usage x509.ExtKeyUsage) []byte {
	t.Helper()
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("CSR signature: %v", err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: csr.Subject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: []string{csr.Subject.CommonName}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// handshake runs a TLS handshake that requires a client certificate
// between a server with a certificate from ca and a client presenting
// cert, and returns the common name the server saw.
func handshake(t *testing.T, ca *testCA, cert tls.Certificate, version uint16) (string, error) {
	t.Helper()
	sk := newFileSigner(t)
	srvCert, err := TLSCertificate(sk, ca.issue(t, mustCSR(t, sk, "platform.test"), x509.ExtKeyUsageServerAuth))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		cn  string
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer c.Close()
		s := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientCAs: ca.pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: version, MaxVersion: version})
		s.SetDeadline(time.Now().Add(30 * time.Second))
		if err := s.Handshake(); err != nil {
			res <- result{err: err}
			return
		}
		res <- result{cn: s.ConnectionState().PeerCertificates[0].Subject.CommonName}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: ca.pool,
		ServerName: "platform.test", MinVersion: version, MaxVersion: version})
	if err == nil {
		c.Close()
	}
	r := <-res
	if err == nil {
		err = r.err
	}
	return r.cn, err
}

func newFileSigner(t *testing.T) *fileKey {
	k, err := openFile(filepath.Join(t.TempDir(), "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustCSR(t *testing.T, k crypto.Signer, cn string) []byte {
	t.Helper()
	der, err := CSR(k, cn)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// The TPM key signs its CSR and then authenticates the device in a TLS
// handshake with mutual authentication, in TLS 1.2 and 1.3.
func TestTPMKeyInMutualTLS(t *testing.T) {
	p := tpmtest.Start(t)
	k := openTPMKey(t, tpmConfig(p, filepath.Join(t.TempDir(), "k")))
	ca := newCA(t)
	csrDER := mustCSR(t, k, "till-1")
	csr, _ := x509.ParseCertificateRequest(csrDER)
	if !csr.PublicKey.(*ecdsa.PublicKey).Equal(k.Public()) || csr.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Fatalf("CSR for another key, or signed with %v", csr.SignatureAlgorithm)
	}
	cert, err := TLSCertificate(k, ca.issue(t, csrDER, x509.ExtKeyUsageClientAuth))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cn, err := handshake(t, ca, cert, v)
		if err != nil || cn != "till-1" {
			t.Fatalf("TLS %x: server saw %q: %v", v, cn, err)
		}
	}
	// A certificate from another CA is refused: the handshake checks.
	other := newCA(t)
	bad, err := TLSCertificate(k, other.issue(t, csrDER, x509.ExtKeyUsageClientAuth))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := handshake(t, ca, bad, tls.VersionTLS13); err == nil {
		t.Fatal("a client certificate from another CA was accepted")
	}
}

func TestFileKeyInMutualTLS(t *testing.T) {
	k := newFileSigner(t)
	ca := newCA(t)
	cert, err := TLSCertificate(k, ca.issue(t, mustCSR(t, k, "till-2"), x509.ExtKeyUsageClientAuth))
	if err != nil {
		t.Fatal(err)
	}
	if cn, err := handshake(t, ca, cert, tls.VersionTLS13); err != nil || cn != "till-2" {
		t.Fatalf("server saw %q: %v", cn, err)
	}
}

func TestTLSCertificateChecksTheKey(t *testing.T) {
	k, other := newFileSigner(t), newFileSigner(t)
	ca := newCA(t)
	chain := ca.issue(t, mustCSR(t, other, "other"), x509.ExtKeyUsageClientAuth)
	if _, err := TLSCertificate(k, chain); err == nil || !strings.Contains(err.Error(), "not for this key") {
		t.Fatalf("a certificate of another key: %v", err)
	}
	for name, chain := range map[string][]byte{
		"empty":      nil,
		"no cert":    []byte("hello"),
		"only a key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}),
		"bad DER":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}),
	} {
		if _, err := TLSCertificate(k, chain); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
	// The leaf with the CA after it is a chain.
	full := append(ca.issue(t, mustCSR(t, k, "k"), x509.ExtKeyUsageClientAuth), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})...)
	c, err := TLSCertificate(k, full)
	if err != nil || len(c.Certificate) != 2 {
		t.Fatalf("chain of two: %v", err)
	}
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := CSR(rk, "x"); err == nil {
		t.Fatal("CSR of an RSA key")
	}
}
