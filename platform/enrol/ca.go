package enrol

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/guichet/guichet/internal/atomicfile"
)

// CA is the platform's certificate authority: an ECDSA P-256 key and a
// long-lived self-signed certificate, kept in the platform's data
// directory. It certifies the devices' keys, the platform's own broker
// connection and the brokers.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// caValidity is the CA's lifetime: far beyond any box's.
const caValidity = 20 * 365 * 24 * time.Hour

// Files of the CA in its directory.
const (
	caKeyFile  = "ca.key"
	caCertFile = "ca.pem"
)

// LoadOrCreateCA loads the CA kept in dir, making it at first use. Several
// instances sharing dir may start together: each file is created only if
// absent (atomicfile.Create), and whoever loses the race loads the
// winner's.
func LoadOrCreateCA(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("enrol: ca: %w", err)
	}
	keyPath, certPath := filepath.Join(dir, caKeyFile), filepath.Join(dir, caCertFile)
	key, err := loadKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("enrol: ca: %w", err)
		}
		der, merr := x509.MarshalPKCS8PrivateKey(key)
		if merr != nil {
			return nil, fmt.Errorf("enrol: ca: %w", merr)
		}
		err = atomicfile.Create(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
		if errors.Is(err, fs.ErrExist) {
			key, err = loadKey(keyPath)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("enrol: ca: %w", err)
	}
	cert, err := loadCert(certPath)
	if errors.Is(err, fs.ErrNotExist) {
		// A key without its certificate is a first start cut short:
		// certify the key now.
		der, serr := selfSign(key)
		if serr != nil {
			return nil, fmt.Errorf("enrol: ca: %w", serr)
		}
		err = atomicfile.Create(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("enrol: ca: %w", err)
		}
		cert, err = loadCert(certPath)
	}
	if err != nil {
		return nil, fmt.Errorf("enrol: ca: %w", err)
	}
	if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("enrol: ca: %s does not certify the key in %s", certPath, keyPath)
	}
	return &CA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}, nil
}

func loadKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: not an ECDSA P-256 key", path)
	}
	return ek, nil
}

func loadCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: not a PEM certificate", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func selfSign(key *ecdsa.PrivateKey) ([]byte, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "guichet platform CA", Organization: []string{"guichet"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.Add(caValidity),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
}

// newSerial draws a random 128-bit serial number (positive, as RFC 5280
// wants).
func newSerial() (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	b[0] |= 0x40 // never shorter than 127 bits, so never zero
	return new(big.Int).SetBytes(b), nil
}

// Cert is the CA's certificate.
func (ca *CA) Cert() *x509.Certificate { return ca.cert }

// PEM is the CA's certificate in PEM, the bundle devices and brokers trust.
func (ca *CA) PEM() []byte { return ca.pem }

// Issued is a certificate the CA made.
type Issued struct {
	DER      []byte
	Serial   *big.Int
	NotAfter time.Time
}

// backdate covers clocks a little behind the platform's.
const backdate = 5 * time.Minute

// IssueDevice certifies a device's key as tenant/device (claim.CommonName):
// a client certificate only.
func (ca *CA) IssueDevice(pub crypto.PublicKey, cn string, validity time.Duration, now time.Time) (*Issued, error) {
	return ca.issue(pub, pkix.Name{CommonName: cn}, validity, now, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil)
}

// IssueClient makes a key and a client certificate for cn, such as the
// platform's own broker connection; it returns both in PEM.
func (ca *CA) IssueClient(cn string, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	return ca.issueWithKey(pkix.Name{CommonName: cn}, validity, now, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil, nil)
}

// IssueServer makes a key and a server certificate for the hosts (IP
// addresses or DNS names), such as a broker's; it returns both in PEM.
func (ca *CA) IssueServer(hosts []string, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("enrol: server certificate without a host")
	}
	var ips []net.IP
	var names []string
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			names = append(names, h)
		}
	}
	return ca.issueWithKey(pkix.Name{CommonName: hosts[0]}, validity, now, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, ips, names)
}

func (ca *CA) issueWithKey(subj pkix.Name, validity time.Duration, now time.Time, eku []x509.ExtKeyUsage, ips []net.IP, names []string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("enrol: key: %w", err)
	}
	is, err := ca.issue(&key.PublicKey, subj, validity, now, eku, ips, names)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("enrol: key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.DER}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

func (ca *CA) issue(pub crypto.PublicKey, subj pkix.Name, validity time.Duration, now time.Time, eku []x509.ExtKeyUsage, ips []net.IP, names []string) (*Issued, error) {
	if validity <= 0 {
		return nil, fmt.Errorf("enrol: validity %v", validity)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("enrol: serial: %w", err)
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: subj,
		NotBefore: now.Add(-backdate), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: eku,
		BasicConstraintsValid: true, IPAddresses: ips, DNSNames: names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("enrol: certificate %s: %w", subj.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("enrol: certificate %s: %w", subj.CommonName, err)
	}
	return &Issued{DER: der, Serial: serial, NotAfter: c.NotAfter}, nil
}

// CRL signs a certificate revocation list of serials, numbered number
// (which must grow from one list to the next), valid until next.
func (ca *CA) CRL(revoked []x509.RevocationListEntry, number *big.Int, now, next time.Time) ([]byte, error) {
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		RevokedCertificateEntries: revoked, Number: number, ThisUpdate: now, NextUpdate: next,
	}, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("enrol: crl: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), nil
}
