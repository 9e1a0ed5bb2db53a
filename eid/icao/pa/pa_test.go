package pa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type issuer struct {
	csca *x509.Certificate
	ds   Signer
}

func newIssuer(t testing.TB, rsaKeys bool, h crypto.Hash) issuer {
	t.Helper()
	var cscaKey, dsKey crypto.Signer
	var err error
	if rsaKeys {
		if cscaKey, err = rsa.GenerateKey(rand.Reader, 1024); err == nil {
			dsKey, err = rsa.GenerateKey(rand.Reader, 1024)
		}
	} else {
		if cscaKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err == nil {
			dsKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ct := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"UT"}, CommonName: "CSCA Utopia"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, ct, ct, cscaKey.Public(), cscaKey)
	if err != nil {
		t.Fatal(err)
	}
	csca, _ := x509.ParseCertificate(der)
	dt := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{Country: []string{"UT"}, CommonName: "DS Utopia"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err = x509.CreateCertificate(rand.Reader, dt, csca, dsKey.Public(), cscaKey)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := x509.ParseCertificate(der)
	return issuer{csca: csca, ds: Signer{Cert: ds, Key: dsKey, Hash: h}}
}

var dgs = map[int][]byte{1: []byte("DG1 content"), 2: bytes.Repeat([]byte{0xFF, 0xD8}, 5000), 14: []byte("DG14")}

func TestSignVerify(t *testing.T) {
	for _, tc := range []struct {
		name string
		rsa  bool
		h    crypto.Hash
	}{{"ECDSA P-256 SHA-256", false, crypto.SHA256}, {"RSA SHA-256", true, crypto.SHA256}, {"ECDSA SHA-384", false, crypto.SHA384}, {"RSA SHA-1", true, crypto.SHA1}} {
		t.Run(tc.name, func(t *testing.T) {
			iss := newIssuer(t, tc.rsa, tc.h)
			cms, err := Sign(iss.ds, dgs)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(cms)
			if err != nil {
				t.Fatal(err)
			}
			if s.HashAlg != tc.h || len(s.Hashes) != 3 || !s.Signer.Equal(iss.ds.Cert) {
				t.Fatalf("parsed %+v", s)
			}
			for n, c := range dgs {
				if err := s.CheckDataGroup(n, c); err != nil {
					t.Error(err)
				}
			}
			if err := s.VerifySignature(); err != nil {
				t.Fatal(err)
			}
			if err := s.VerifySigner(NewPool(iss.csca)); err != nil {
				t.Fatal(err)
			}
			// Tampering is caught where it happens.
			if err := s.CheckDataGroup(1, []byte("DG1 c0ntent")); !errors.Is(err, ErrHashMismatch) {
				t.Errorf("tampered DG1: %v", err)
			}
			if err := s.CheckDataGroup(3, nil); !errors.Is(err, ErrNoHash) {
				t.Errorf("DG3: %v", err)
			}
			other := newIssuer(t, false, crypto.SHA256)
			if err := s.VerifySigner(NewPool(other.csca)); !errors.Is(err, ErrUntrusted) {
				t.Errorf("foreign CSCA: %v", err)
			}
			if err := s.VerifySigner(nil); !errors.Is(err, ErrUntrusted) {
				t.Errorf("no CSCA: %v", err)
			}
		})
	}
}

func TestForgedSigner(t *testing.T) {
	// A forger who copies the CSCA's name but not its key is refused.
	real := newIssuer(t, false, crypto.SHA256)
	forged := newIssuer(t, false, crypto.SHA256)
	cms, _ := Sign(forged.ds, dgs)
	s, err := Parse(cms)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.VerifySigner(NewPool(real.csca)); !errors.Is(err, ErrUntrusted) {
		t.Errorf("forged DS accepted: %v", err)
	}
	// A signature by a key other than the certificate's is refused.
	other := newIssuer(t, false, crypto.SHA256)
	cms, _ = Sign(Signer{Cert: real.ds.Cert, Key: other.ds.Key, Hash: crypto.SHA256}, dgs)
	if s, err = Parse(cms); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifySignature(); !errors.Is(err, ErrSignature) {
		t.Errorf("foreign key accepted: %v", err)
	}
}

func TestAlteredObject(t *testing.T) {
	iss := newIssuer(t, false, crypto.SHA256)
	cms, _ := Sign(iss.ds, dgs)
	// Change one byte of DG1's hash inside the LDS security object: the
	// message digest attribute no longer matches.
	h := crypto.SHA256.New()
	h.Write(dgs[1])
	i := bytes.Index(cms, h.Sum(nil))
	if i < 0 {
		t.Fatal("hash not found in the object")
	}
	cms[i] ^= 1
	if _, err := Parse(cms); !errors.Is(err, ErrSignature) {
		t.Errorf("altered LDS security object: %v", err)
	}
}

func TestParseHostile(t *testing.T) {
	iss := newIssuer(t, false, crypto.SHA256)
	cms, _ := Sign(iss.ds, dgs)
	junk := make([]byte, 10<<20)
	r := mrand.New(mrand.NewPCG(7, 8))
	for i := range junk {
		junk[i] = byte(r.Uint32())
	}
	for name, in := range map[string][]byte{
		"empty":     nil,
		"truncated": cms[:len(cms)-10],
		"trailing":  append(append([]byte{}, cms...), 0),
		"junk":      junk,
		"huge":      append([]byte{0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF}, cms...),
		"not cms":   der(0x30, mustMarshal(oidLDSSecurity)),
	} {
		if _, err := Parse(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestLoadPool(t *testing.T) {
	iss := newIssuer(t, false, crypto.SHA256)
	other := newIssuer(t, false, crypto.SHA256)
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "a.pem")
	os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.csca.Raw}), 0o644)
	os.WriteFile(filepath.Join(dir, "b.der"), other.csca.Raw, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644)
	p, err := LoadPool(dir)
	if err != nil || p.Len() != 2 {
		t.Fatalf("LoadPool(dir) = %d, %v", p.Len(), err)
	}
	if p, err = LoadPool(pemFile); err != nil || p.Len() != 1 {
		t.Fatalf("LoadPool(file) = %v", err)
	}
	bad := filepath.Join(dir, "bad.crt")
	os.WriteFile(bad, []byte("garbage"), 0o644)
	if _, err := LoadPool(bad); err == nil {
		t.Error("garbage CSCA file accepted")
	}
	if _, err := LoadPool(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := LoadPool(t.TempDir()); err == nil {
		t.Error("empty folder accepted")
	}
}

func FuzzParse(f *testing.F) {
	iss := newIssuer(f, false, crypto.SHA256)
	cms, _ := Sign(iss.ds, dgs)
	f.Add(cms)
	f.Add(cms[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		if s.Signer == nil || s.HashAlg == 0 {
			t.Fatal("parsed object without signer or hash")
		}
		s.VerifySignature()
		s.VerifySigner(NewPool(iss.csca))
	})
}
