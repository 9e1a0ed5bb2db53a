package ecc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
)

// TestVerifyAgainstStandardLibrary checks ECDSA both ways with
// crypto/ecdsa on P-256: its signatures verify here, and ours there.
func TestVerifyAgainstStandardLibrary(t *testing.T) {
	digest := sha256.Sum256([]byte("document security object"))
	std, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&std.PublicKey)
	pub, err := ParsePublicKey(der)
	if err != nil || pub.Curve != P256 {
		t.Fatalf("ParsePublicKey of a crypto/x509 P-256 key: %v", err)
	}
	for range 5 {
		sig, _ := ecdsa.SignASN1(rand.Reader, std, digest[:])
		if !VerifyASN1(pub, digest[:], sig) {
			t.Fatal("a crypto/ecdsa signature does not verify")
		}
	}
	own, _ := GenerateKey(P256, rand.Reader)
	stdPub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), P256.Encode(own.Point))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		sig, err := own.Sign(rand.Reader, digest[:], nil)
		if err != nil || !ecdsa.VerifyASN1(stdPub, digest[:], sig) {
			t.Fatalf("our signature does not verify with crypto/ecdsa: %v", err)
		}
	}
}

func TestSignVerifyEveryCurve(t *testing.T) {
	digest := sha256.Sum256([]byte("DG1"))
	for _, c := range Curves() {
		k, err := GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := MarshalPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ParsePublicKey(der)
		if err != nil || pub.Curve != c {
			t.Fatalf("%s: SPKI round trip: %v", c.Name, err)
		}
		sig, _ := k.Sign(rand.Reader, digest[:], nil)
		if !VerifyASN1(pub, digest[:], sig) {
			t.Fatalf("%s: signature does not verify", c.Name)
		}
		other := sha256.Sum256([]byte("DG2"))
		if VerifyASN1(pub, other[:], sig) {
			t.Fatalf("%s: signature verifies another digest", c.Name)
		}
		if named, err := CurveByName(c.Name); err != nil || named != c {
			t.Errorf("CurveByName(%q) = %v, %v", c.Name, named, err)
		}
	}
	if _, err := CurveByName("secp256k1"); !errors.Is(err, ErrUnknownCurve) {
		t.Errorf("secp256k1: %v", err)
	}
}

// explicitSPKI encodes k with explicit domain parameters, as many document
// signer certificates do.
func explicitSPKI(t testing.TB, k *PublicKey, mutate func(*ecParameters)) []byte {
	c := k.Curve
	ep := ecParameters{
		Version: 1, FieldID: fieldID{FieldType: oidPrimeField, Prime: c.P},
		Curve: curveParams{A: c.A.FillBytes(make([]byte, c.Size)), B: c.B.FillBytes(make([]byte, c.Size))},
		Base:  c.Encode(c.Generator()), Order: c.N, Cofactor: big.NewInt(1),
	}
	if mutate != nil {
		mutate(&ep)
	}
	params, err := asn1.Marshal(ep)
	if err != nil {
		t.Fatal(err)
	}
	pt := c.Encode(k.Point)
	der, err := asn1.Marshal(spki{Algorithm: algID(oidECPublicKey, params), PublicKey: asn1.BitString{Bytes: pt, BitLength: 8 * len(pt)}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParsePublicKeyExplicit(t *testing.T) {
	k, _ := GenerateKey(BrainpoolP256r1, rand.Reader)
	pub, err := ParsePublicKey(explicitSPKI(t, &k.PublicKey, nil))
	if err != nil || pub.Curve != BrainpoolP256r1 || pub.X.Cmp(k.X) != 0 {
		t.Fatalf("explicit brainpoolP256r1 parameters: %v", err)
	}
}

// TestHostileKeys feeds ParsePublicKey keys an attacker (or a broken
// issuer) may put in a certificate.
func TestHostileKeys(t *testing.T) {
	k, _ := GenerateKey(BrainpoolP256r1, rand.Reader)
	good, _ := MarshalPublicKey(&k.PublicKey)
	named := func(oid asn1.ObjectIdentifier, pt []byte) []byte {
		p, _ := asn1.Marshal(oid)
		b, _ := asn1.Marshal(spki{Algorithm: algID(oidECPublicKey, p), PublicKey: asn1.BitString{Bytes: pt, BitLength: 8 * len(pt)}})
		return b
	}
	pt := BrainpoolP256r1.Encode(k.Point)
	off := append([]byte(nil), pt...)
	off[len(off)-1] ^= 1
	compressed := append([]byte{0x02}, pt[1:33]...)
	rsaAlg, _ := asn1.Marshal(spki{Algorithm: algID(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, []byte{5, 0}), PublicKey: asn1.BitString{Bytes: pt, BitLength: 8 * len(pt)}})
	tests := []struct {
		name string
		der  []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"trailing byte", append(append([]byte(nil), good...), 0), ErrMalformed},
		{"truncated", good[:len(good)-3], ErrMalformed},
		{"not EC", rsaAlg, ErrMalformed},
		{"unknown curve OID (secp256k1)", named(asn1.ObjectIdentifier{1, 3, 132, 0, 10}, pt), ErrUnknownCurve},
		{"P-256 OID for a brainpool point", named(P256.OID(), pt), ErrBadPoint},
		{"point off the curve", named(BrainpoolP256r1.OID(), off), ErrBadPoint},
		{"compressed point", named(BrainpoolP256r1.OID(), compressed), ErrBadPoint},
		{"point at infinity", named(BrainpoolP256r1.OID(), []byte{0}), ErrBadPoint},
		{"point of P-384 length", named(BrainpoolP256r1.OID(), P384.Encode(P384.Generator())), ErrBadPoint},
		{"explicit with another base point", explicitSPKI(t, &k.PublicKey, func(e *ecParameters) { e.Base = BrainpoolP256r1.Encode(k.Point) }), ErrUnknownCurve},
		{"explicit with another b", explicitSPKI(t, &k.PublicKey, func(e *ecParameters) { e.Curve.B = []byte{7} }), ErrUnknownCurve},
		{"explicit with cofactor 4", explicitSPKI(t, &k.PublicKey, func(e *ecParameters) { e.Cofactor = big.NewInt(4) }), ErrUnknownCurve},
		{"explicit version 2", explicitSPKI(t, &k.PublicKey, func(e *ecParameters) { e.Version = 2 }), ErrMalformed},
		{"explicit binary field", explicitSPKI(t, &k.PublicKey, func(e *ecParameters) { e.FieldID.FieldType = asn1.ObjectIdentifier{1, 2, 840, 10045, 1, 2} }), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParsePublicKey(tt.der); !errors.Is(err, tt.want) {
				t.Fatalf("ParsePublicKey: %v, want %v", err, tt.want)
			}
		})
	}
}

// TestHostileSignatures checks that r and s outside [1, n-1], and
// signatures that do not parse, fail.
func TestHostileSignatures(t *testing.T) {
	c := BrainpoolP256r1
	k, _ := GenerateKey(c, rand.Reader)
	digest := sha256.Sum256([]byte("x"))
	sig, _ := k.Sign(rand.Reader, digest[:], nil)
	r, s, err := ParseSignature(sig)
	if err != nil {
		t.Fatal(err)
	}
	nPlus := func(v *big.Int) *big.Int { return new(big.Int).Add(v, c.N) }
	for _, tt := range []struct {
		name string
		r, s *big.Int
	}{
		{"r = 0", big.NewInt(0), s},
		{"s = 0", r, big.NewInt(0)},
		{"r = n", c.N, s},
		{"s = n", r, c.N},
		{"r + n", nPlus(r), s},
		{"s + n", r, nPlus(s)},
		{"negative r", new(big.Int).Neg(r), s},
		{"s negated mod n is valid, s swapped with r is not", s, r},
	} {
		if Verify(&k.PublicKey, digest[:], tt.r, tt.s) {
			t.Errorf("%s: verifies", tt.name)
		}
	}
	if !Verify(&k.PublicKey, digest[:], r, new(big.Int).Sub(c.N, s)) {
		t.Error("(r, n-s) does not verify: ECDSA's malleability is expected")
	}
	inf := &PublicKey{Curve: c}
	if Verify(inf, digest[:], r, s) {
		t.Error("the point at infinity verifies")
	}
	for name, b := range map[string][]byte{
		"empty":          nil,
		"trailing":       append(append([]byte(nil), sig...), 0),
		"one integer":    mustMarshal(t, struct{ R *big.Int }{r}),
		"negative s":     mustMarshal(t, signature{R: r, S: big.NewInt(-1)}),
		"zero r":         mustMarshal(t, signature{R: big.NewInt(0), S: s}),
		"not a sequence": {0x02, 0x01, 0x01},
	} {
		if _, _, err := ParseSignature(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParse feeds the SPKI and signature parsers arbitrary bytes: they must
// not panic, and what they accept must be a point of its curve and a
// positive pair.
func FuzzParse(f *testing.F) {
	k, _ := GenerateKey(BrainpoolP256r1, rand.Reader)
	good, _ := MarshalPublicKey(&k.PublicKey)
	f.Add(good)
	f.Add(explicitSPKI(f, &k.PublicKey, nil))
	sig, _ := k.Sign(rand.Reader, make([]byte, 32), nil)
	f.Add(sig)
	f.Fuzz(func(t *testing.T, b []byte) {
		if pub, err := ParsePublicKey(b); err == nil {
			if !pub.Curve.OnCurve(pub.X, pub.Y) {
				t.Fatal("accepted a point off its curve")
			}
			Verify(pub, b, big.NewInt(1), big.NewInt(1))
		}
		if r, s, err := ParseSignature(b); err == nil && (r.Sign() <= 0 || s.Sign() <= 0) {
			t.Fatal("accepted r or s not positive")
		}
	})
}
