package pa

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/guichet/guichet/eid/icao/ecc"
)

// brainpoolIssuer makes a CSCA and a document signer on brainpoolP256r1.
func brainpoolIssuer(t testing.TB) (csca *x509.Certificate, ds Signer) {
	t.Helper()
	cscaKey, _ := ecc.GenerateKey(ecc.BrainpoolP256r1, rand.Reader)
	dsKey, _ := ecc.GenerateKey(ecc.BrainpoolP256r1, rand.Reader)
	now := time.Now()
	ct := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CSCA BP"},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	csca, err := CreateCertificate(rand.Reader, ct, ct, cscaKey.Public(), cscaKey)
	if err != nil {
		t.Fatal(err)
	}
	dt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "DS BP"},
		NotBefore: now, NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature}
	cert, err := CreateCertificate(rand.Reader, dt, csca, dsKey.Public(), cscaKey)
	if err != nil {
		t.Fatal(err)
	}
	return csca, Signer{Cert: cert, Key: dsKey, Hash: crypto.SHA256}
}

func TestBrainpoolDocumentSigner(t *testing.T) {
	csca, ds := brainpoolIssuer(t)
	if _, err := x509.ParseCertificate(csca.Raw); err == nil {
		t.Fatal("crypto/x509 parses a brainpool certificate; ParseCertificate's fallback is not exercised")
	}
	if csca.Subject.CommonName != "CSCA BP" || !csca.IsCA || len(csca.SubjectKeyId) == 0 || ds.Cert.Issuer.CommonName != "CSCA BP" {
		t.Fatalf("names and extensions not parsed: %+v", csca.Subject)
	}
	// The CSCA comes from a PEM file, as LoadPool reads it.
	pool, err := ParseCertificates(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: csca.Raw}))
	if err != nil || len(pool) != 1 {
		t.Fatalf("ParseCertificates: %v", err)
	}
	dgs := map[int][]byte{1: []byte("DG1 content"), 2: []byte("DG2 content")}
	cms, err := Sign(ds, dgs)
	if err != nil {
		t.Fatal(err)
	}
	sod, err := Parse(cms)
	if err != nil {
		t.Fatal(err)
	}
	if err := sod.CheckDataGroup(1, dgs[1]); err != nil {
		t.Fatal(err)
	}
	if err := sod.VerifySignature(); err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	if err := sod.VerifySigner(NewPool(pool...)); err != nil {
		t.Fatalf("VerifySigner: %v", err)
	}

	// A document signer certificate with one bit of its signature
	// flipped is no longer vouched for.
	bad := append([]byte(nil), ds.Cert.Raw...)
	bad[len(bad)-3] ^= 1
	badCert, err := ParseCertificate(bad)
	if err != nil {
		t.Fatal(err)
	}
	sod.Signer = badCert
	if err := sod.VerifySigner(NewPool(pool...)); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("tampered signer certificate: %v", err)
	}
}

// TestParseCertificateHostile checks that ParseCertificate keeps refusing
// what crypto/x509 refuses when package ecc cannot help either.
func TestParseCertificateHostile(t *testing.T) {
	csca, _ := brainpoolIssuer(t)
	p, err := splitCertificate(csca.Raw)
	if err != nil {
		t.Fatal(err)
	}
	withKey := func(spki []byte) []byte { c, _ := p.join(spki); return c }
	k, _ := ecc.GenerateKey(ecc.BrainpoolP256r1, rand.Reader)
	pt := ecc.BrainpoolP256r1.Encode(k.Point)
	off := append([]byte(nil), pt...)
	off[len(off)-1] ^= 1
	spkiWith := func(curveOID []byte, point []byte) []byte {
		alg := der(0x30, concat(mustMarshal(asn1ECPublicKey), curveOID))
		return der(0x30, concat(alg, der(0x03, append([]byte{0}, point...))))
	}
	for name, b := range map[string][]byte{
		"empty":               nil,
		"truncated":           csca.Raw[:len(csca.Raw)-10],
		"trailing byte":       append(append([]byte(nil), csca.Raw...), 0),
		"point off the curve": withKey(spkiWith(mustMarshal(ecc.BrainpoolP256r1.OID()), off)),
		"unknown curve":       withKey(spkiWith(mustMarshal(asn1Secp256k1), pt)),
		"P-256 OID, bp point": withKey(spkiWith(mustMarshal(ecc.P256.OID()), pt)),
		"key not a sequence":  withKey([]byte{0x05, 0x00}),
		"TBS of one element":  der(0x30, concat(der(0x30, []byte{0x02, 0x01, 0x01}), p.sigAlg.FullBytes, p.sig.FullBytes)),
	} {
		if _, err := ParseCertificate(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

var (
	asn1ECPublicKey = oidECPublicKey
	asn1Secp256k1   = asn1.ObjectIdentifier{1, 3, 132, 0, 10}
)

// FuzzParseCertificate feeds ParseCertificate arbitrary bytes, seeded with
// brainpool certificates: it must not panic, and a key it accepts is one
// crypto/x509 or package ecc vouches for.
func FuzzParseCertificate(f *testing.F) {
	csca, ds := brainpoolIssuer(f)
	f.Add(csca.Raw)
	f.Add(ds.Cert.Raw)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCertificate(b)
		if err != nil {
			return
		}
		if k, ok := c.PublicKey.(*ecc.PublicKey); ok && !k.Curve.OnCurve(k.X, k.Y) {
			t.Fatal("accepted a point off its curve")
		}
	})
}
