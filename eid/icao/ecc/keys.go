package ecc

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// Errors of key and signature parsing.
var (
	// ErrUnknownCurve is returned for a curve this package does not
	// implement, named by OID or given by explicit parameters.
	ErrUnknownCurve = errors.New("ecc: curve not implemented")
	// ErrMalformed is returned for a SubjectPublicKeyInfo, domain
	// parameters or a signature that do not parse.
	ErrMalformed = errors.New("ecc: malformed key or signature")
)

// The object identifiers of the curves: RFC 5639 section 4.1 for the
// brainpool curves, SEC 2 and RFC 5480 for NIST's.
var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidPrimeField  = asn1.ObjectIdentifier{1, 2, 840, 10045, 1, 1}
	oidBrainpool   = asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1}
)

// curveOIDs lists every curve of the package with its object identifier.
var curveOIDs = []struct {
	c   *Curve
	oid asn1.ObjectIdentifier
}{
	{P224, asn1.ObjectIdentifier{1, 3, 132, 0, 33}},
	{P256, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}},
	{P384, asn1.ObjectIdentifier{1, 3, 132, 0, 34}},
	{P521, asn1.ObjectIdentifier{1, 3, 132, 0, 35}},
	{BrainpoolP224r1, append(oidBrainpool[:len(oidBrainpool):len(oidBrainpool)], 5)},
	{BrainpoolP256r1, append(oidBrainpool[:len(oidBrainpool):len(oidBrainpool)], 7)},
	{BrainpoolP320r1, append(oidBrainpool[:len(oidBrainpool):len(oidBrainpool)], 9)},
	{BrainpoolP384r1, append(oidBrainpool[:len(oidBrainpool):len(oidBrainpool)], 11)},
	{BrainpoolP512r1, append(oidBrainpool[:len(oidBrainpool):len(oidBrainpool)], 13)},
}

// Curves returns every curve of the package.
func Curves() []*Curve {
	out := make([]*Curve, len(curveOIDs))
	for i, c := range curveOIDs {
		out[i] = c.c
	}
	return out
}

// OID returns the object identifier that names c in a certificate.
func (c *Curve) OID() asn1.ObjectIdentifier {
	for _, e := range curveOIDs {
		if e.c == c {
			return e.oid
		}
	}
	return nil
}

// CurveByOID returns the curve named by oid.
func CurveByOID(oid asn1.ObjectIdentifier) (*Curve, error) {
	for _, e := range curveOIDs {
		if e.oid.Equal(oid) {
			return e.c, nil
		}
	}
	return nil, fmt.Errorf("%w: OID %v", ErrUnknownCurve, oid)
}

// CurveByName returns the curve by its name, any case: "brainpoolP256r1",
// "P-256" or "NIST P-256".
func CurveByName(name string) (*Curve, error) {
	n := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(name), "NIST "))
	var names []string
	for _, e := range curveOIDs {
		short := strings.TrimPrefix(e.c.Name, "NIST ")
		if strings.ToLower(short) == n {
			return e.c, nil
		}
		names = append(names, short)
	}
	return nil, fmt.Errorf("%w: %q; implemented: %s", ErrUnknownCurve, name, strings.Join(names, ", "))
}

// PublicKey is an elliptic curve public key: a point of Curve other than
// the point at infinity.
type PublicKey struct {
	Curve *Curve
	Point
}

type spki struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// ecParameters are explicit domain parameters (RFC 3279 2.3.5, BSI
// TR-03111 5.1.1), which document signer certificates often carry instead
// of a curve's name.
type ecParameters struct {
	Version  int
	FieldID  fieldID
	Curve    curveParams
	Base     []byte
	Order    *big.Int
	Cofactor *big.Int `asn1:"optional"`
}

type fieldID struct {
	FieldType asn1.ObjectIdentifier
	Prime     *big.Int
}

type curveParams struct {
	A, B []byte
	Seed asn1.BitString `asn1:"optional"`
}

// ParsePublicKey parses a DER SubjectPublicKeyInfo (RFC 5480) holding an
// id-ecPublicKey on a curve of this package, named by its OID or given by
// explicit prime-field parameters equal to one of them. The point must be
// uncompressed and on the curve. It serves the keys crypto/x509 refuses,
// brainpool's among them.
func ParsePublicKey(der []byte) (*PublicKey, error) {
	var k spki
	rest, err := asn1.Unmarshal(der, &k)
	if err != nil {
		return nil, fmt.Errorf("%w: SubjectPublicKeyInfo: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the SubjectPublicKeyInfo", ErrMalformed, len(rest))
	}
	if !k.Algorithm.Algorithm.Equal(oidECPublicKey) {
		return nil, fmt.Errorf("%w: algorithm %v is not id-ecPublicKey", ErrMalformed, k.Algorithm.Algorithm)
	}
	if k.PublicKey.BitLength%8 != 0 {
		return nil, fmt.Errorf("%w: public key of %d bits", ErrMalformed, k.PublicKey.BitLength)
	}
	c, err := curveOf(k.Algorithm.Parameters)
	if err != nil {
		return nil, err
	}
	p, err := c.Decode(k.PublicKey.Bytes)
	if err != nil {
		return nil, err
	}
	return &PublicKey{Curve: c, Point: p}, nil
}

// curveOf finds the curve of an id-ecPublicKey's parameters: a named curve
// or explicit parameters. implicitCurve (NULL) names nothing to check
// against and is refused.
func curveOf(params asn1.RawValue) (*Curve, error) {
	switch {
	case params.Class == asn1.ClassUniversal && params.Tag == asn1.TagOID:
		var oid asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(params.FullBytes, &oid); err != nil {
			return nil, fmt.Errorf("%w: curve OID: %v", ErrMalformed, err)
		}
		return CurveByOID(oid)
	case params.Class == asn1.ClassUniversal && params.Tag == asn1.TagSequence:
		var ep ecParameters
		rest, err := asn1.Unmarshal(params.FullBytes, &ep)
		if err != nil || len(rest) != 0 {
			return nil, fmt.Errorf("%w: explicit domain parameters: %v", ErrMalformed, err)
		}
		if ep.Version != 1 || !ep.FieldID.FieldType.Equal(oidPrimeField) || ep.FieldID.Prime == nil || ep.Order == nil {
			return nil, fmt.Errorf("%w: explicit domain parameters not of a prime field, version 1", ErrMalformed)
		}
		if ep.Cofactor != nil && ep.Cofactor.Cmp(big.NewInt(1)) != 0 {
			return nil, fmt.Errorf("%w: cofactor %v", ErrUnknownCurve, ep.Cofactor)
		}
		a, b := new(big.Int).SetBytes(ep.Curve.A), new(big.Int).SetBytes(ep.Curve.B)
		for _, e := range curveOIDs {
			c := e.c
			if c.P.Cmp(ep.FieldID.Prime) != 0 || c.A.Cmp(a) != 0 || c.B.Cmp(b) != 0 || c.N.Cmp(ep.Order) != 0 {
				continue
			}
			g, err := c.Decode(ep.Base)
			if err != nil || g.X.Cmp(c.Gx) != 0 || g.Y.Cmp(c.Gy) != 0 {
				return nil, fmt.Errorf("%w: explicit parameters of %s with another base point", ErrUnknownCurve, c.Name)
			}
			return c, nil
		}
		return nil, fmt.Errorf("%w: explicit parameters match no implemented curve", ErrUnknownCurve)
	}
	return nil, fmt.Errorf("%w: parameters are neither a named curve nor explicit parameters", ErrMalformed)
}

// MarshalPublicKey encodes k as a DER SubjectPublicKeyInfo with the
// curve's name (RFC 5480).
func MarshalPublicKey(k *PublicKey) ([]byte, error) {
	oid := k.Curve.OID()
	if oid == nil {
		return nil, fmt.Errorf("%w: %s has no OID", ErrUnknownCurve, k.Curve.Name)
	}
	params, err := asn1.Marshal(oid)
	if err != nil {
		return nil, err
	}
	pt := k.Curve.Encode(k.Point)
	return asn1.Marshal(spki{
		Algorithm: algID(oidECPublicKey, params),
		PublicKey: asn1.BitString{Bytes: pt, BitLength: 8 * len(pt)},
	})
}

type signature struct{ R, S *big.Int }

// ParseSignature parses a DER ECDSA-Sig-Value (RFC 5480 2.2.3): exactly
// two positive INTEGERs, nothing after them.
func ParseSignature(der []byte) (r, s *big.Int, err error) {
	var sig signature
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: ECDSA signature: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, nil, fmt.Errorf("%w: %d bytes after the ECDSA signature", ErrMalformed, len(rest))
	}
	if sig.R == nil || sig.S == nil || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 {
		return nil, nil, fmt.Errorf("%w: ECDSA signature with r or s not positive", ErrMalformed)
	}
	return sig.R, sig.S, nil
}

// Verify reports whether (r, s) is a valid ECDSA signature of digest by k
// (SEC 1 4.1.4, BSI TR-03111 4.2.1.2). A digest longer than the group
// order is cut to its leftmost bits. r and s outside [1, n-1] fail.
func Verify(k *PublicKey, digest []byte, r, s *big.Int) bool {
	c := k.Curve
	if k.Infinity() || !c.OnCurve(k.X, k.Y) {
		return false
	}
	if r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(c.N) >= 0 || s.Cmp(c.N) >= 0 {
		return false
	}
	e := hashToInt(digest, c)
	w := new(big.Int).ModInverse(s, c.N)
	if w == nil {
		return false
	}
	u1 := e.Mul(e, w)
	u1.Mod(u1, c.N)
	u2 := w.Mul(r, w)
	u2.Mod(u2, c.N)
	x := c.Add(c.Mul(u1, c.Generator()), c.Mul(u2, k.Point))
	if x.Infinity() {
		return false
	}
	v := new(big.Int).Mod(x.X, c.N)
	return v.Cmp(r) == 0
}

// VerifyASN1 reports whether sig, a DER ECDSA-Sig-Value, is a valid
// signature of digest by k.
func VerifyASN1(k *PublicKey, digest, sig []byte) bool {
	r, s, err := ParseSignature(sig)
	return err == nil && Verify(k, digest, r, s)
}

// hashToInt takes the leftmost bits of digest, as many as the order has.
func hashToInt(digest []byte, c *Curve) *big.Int {
	bits := c.N.BitLen()
	if size := (bits + 7) / 8; len(digest) > size {
		digest = digest[:size]
	}
	e := new(big.Int).SetBytes(digest)
	if excess := len(digest)*8 - bits; excess > 0 {
		e.Rsh(e, uint(excess))
	}
	return e
}

// PrivateKey is an elliptic curve private key. It signs with ECDSA over
// math/big, not in constant time: it is meant for the virtual passport
// and tests, which issue documents on curves crypto/ecdsa lacks, not for
// keys that matter.
type PrivateKey struct {
	PublicKey
	D *big.Int
}

// GenerateKey draws a private key on c from rnd.
func GenerateKey(c *Curve, rnd io.Reader) (*PrivateKey, error) {
	d, err := c.PrivateKey(rnd)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{PublicKey: PublicKey{Curve: c, Point: c.Mul(d, c.Generator())}, D: d}, nil
}

// Public returns the public key, a *PublicKey.
func (k *PrivateKey) Public() crypto.PublicKey { return &k.PublicKey }

// Sign signs digest (already hashed) with ECDSA and returns the DER
// ECDSA-Sig-Value, as crypto.Signer asks of an ECDSA key. rnd gives the
// per-signature nonce.
func (k *PrivateKey) Sign(rnd io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	c := k.Curve
	e := hashToInt(digest, c)
	for range 100 {
		nonce, err := c.PrivateKey(rnd)
		if err != nil {
			return nil, err
		}
		r := c.Mul(nonce, c.Generator()).X
		r.Mod(r, c.N)
		if r.Sign() == 0 {
			continue
		}
		s := new(big.Int).Mul(k.D, r)
		s.Add(s, e)
		s.Mul(s, new(big.Int).ModInverse(nonce, c.N))
		s.Mod(s, c.N)
		if s.Sign() == 0 {
			continue
		}
		return asn1.Marshal(signature{R: r, S: s})
	}
	return nil, errors.New("ecc: no signature after 100 nonces")
}

// algID is an AlgorithmIdentifier with DER parameters.
func algID(oid asn1.ObjectIdentifier, params []byte) pkix.AlgorithmIdentifier {
	return pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: params}}
}
