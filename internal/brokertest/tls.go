package brokertest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CA is a throw-away certificate authority for TLS tests.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	PEM  []byte
	dir  string

	crlNumber int64
}

// NewCA makes a CA whose files live in a temporary folder.
func NewCA(t testing.TB) *CA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "guichet test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), dir: t.TempDir()}
	return ca
}

// Issue makes a certificate for cn (a server when server is set, valid for
// 127.0.0.1) and writes NAME.pem and NAME.key; it returns their paths.
func (ca *CA) Issue(t testing.TB, cn string, server bool) (certPath, keyPath string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	// Device CNs are tenant/device (claim.CommonName): no slash in a file
	// name, and two certificates for one CN (a renewal) get two files.
	base := filepath.Join(ca.dir, strings.ReplaceAll(cn, "/", "_")+"-"+serial.Text(16))
	certPath, keyPath = base+".pem", base+".key"
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// CAFile writes the CA certificate and returns its path. The file is
// written once, through a rename: a broker started earlier may be reading it
// while a second broker's configuration asks for it again, and a rewrite in
// place showed that broker an empty file ("no certificate or crl found").
func (ca *CA) CAFile(t testing.TB) string {
	p := filepath.Join(ca.dir, "ca.pem")
	if b, err := os.ReadFile(p); err == nil && bytes.Equal(b, ca.PEM) {
		return p
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// ClientTLS returns a client configuration with the certificate of cn.
func (ca *CA) ClientTLS(t testing.TB, cn string) *tls.Config {
	c, k := ca.Issue(t, cn, false)
	pair, err := tls.LoadX509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
}

// CRL returns a PEM certificate revocation list signed by the CA that
// revokes the given certificates (none: an empty list, which a broker with
// a crlfile still needs). It is valid from an hour ago for nextUpdate.
func (ca *CA) CRL(t testing.TB, nextUpdate time.Duration, revoked ...*x509.Certificate) []byte {
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	ca.crlNumber++
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(ca.crlNumber), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(nextUpdate),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// StartMosquittoTLS starts mosquitto with the production site
// configuration (StartMosquittoSite) and returns its mutual-TLS listener:
// a client certificate is required, its CN is the client id, and
// deploy/mosquitto/guichet.acl applies. URL() is then ssl://.
func StartMosquittoTLS(t testing.TB, ca *CA) *Mosquitto {
	t.Helper()
	return StartMosquittoSite(t, ca).Mosquitto
}
