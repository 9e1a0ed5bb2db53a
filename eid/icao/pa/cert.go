package pa

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"github.com/guichet/guichet/eid/icao/ecc"
)

// Country signing CAs and document signers use brainpool curves (RFC 5639)
// as much as NIST's, often with explicit domain parameters. crypto/x509
// parses neither: its parser stops at the public key. ParseCertificate
// therefore parses such a certificate with a stand-in NIST P-256 key in
// place of the real one, so that crypto/x509 reads everything else (names,
// serial, extensions, signature algorithm), then puts back the original
// bytes and the real key, an *ecc.PublicKey, which verify knows.

// standIn is the SubjectPublicKeyInfo put in place of one crypto/x509
// refuses: P-256's base point, a valid key nobody holds for this purpose.
var standIn = func() []byte {
	b, err := ecc.MarshalPublicKey(&ecc.PublicKey{Curve: ecc.P256, Point: ecc.P256.Generator()})
	if err != nil {
		panic(err)
	}
	return b
}()

// certParts are the elements of a certificate and of its TBSCertificate
// (RFC 5280 4.1), with the index of the SubjectPublicKeyInfo among the
// latter.
type certParts struct {
	tbs, sigAlg, sig asn1.RawValue
	fields           []asn1.RawValue
	spki             int
}

func splitCertificate(der []byte) (*certParts, error) {
	var outer asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) != 0 || outer.Tag != asn1.TagSequence {
		return nil, errors.New("not a DER certificate")
	}
	p := &certParts{}
	rest := outer.Bytes
	for _, v := range []*asn1.RawValue{&p.tbs, &p.sigAlg, &p.sig} {
		var err error
		if rest, err = asn1.Unmarshal(rest, v); err != nil {
			return nil, fmt.Errorf("certificate: %v", err)
		}
	}
	if len(rest) != 0 || p.tbs.Tag != asn1.TagSequence {
		return nil, errors.New("certificate: not three elements")
	}
	for in := p.tbs.Bytes; len(in) > 0; {
		var v asn1.RawValue
		var err error
		if in, err = asn1.Unmarshal(in, &v); err != nil {
			return nil, fmt.Errorf("TBSCertificate: %v", err)
		}
		p.fields = append(p.fields, v)
	}
	// version [0] (optional), serial, signature, issuer, validity,
	// subject, subjectPublicKeyInfo.
	p.spki = 5
	if len(p.fields) > 0 && p.fields[0].Class == asn1.ClassContextSpecific && p.fields[0].Tag == 0 {
		p.spki = 6
	}
	if len(p.fields) <= p.spki {
		return nil, errors.New("TBSCertificate: too few elements")
	}
	return p, nil
}

// join encodes the certificate with spki in place of its key.
func (p *certParts) join(spki []byte) (cert, tbs []byte) {
	var body []byte
	for i, f := range p.fields {
		if i == p.spki {
			body = append(body, spki...)
		} else {
			body = append(body, f.FullBytes...)
		}
	}
	tbs = der(0x30, body)
	return der(0x30, concat(tbs, p.sigAlg.FullBytes, p.sig.FullBytes)), tbs
}

// ParseCertificate parses a DER certificate with crypto/x509, and when
// crypto/x509 refuses its elliptic curve key (brainpool, explicit domain
// parameters), parses that key with package ecc: the certificate's
// PublicKey is then an *ecc.PublicKey and its PublicKeyAlgorithm ECDSA.
func ParseCertificate(b []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(b)
	if err == nil {
		return c, nil
	}
	p, perr := splitCertificate(b)
	if perr != nil {
		return nil, err
	}
	pub, kerr := ecc.ParsePublicKey(p.fields[p.spki].FullBytes)
	if kerr != nil {
		if errors.Is(kerr, ecc.ErrMalformed) {
			// Not an elliptic curve key: crypto/x509's reason stands.
			return nil, err
		}
		return nil, fmt.Errorf("%w (then: %w)", err, kerr)
	}
	swapped, _ := p.join(standIn)
	c, err = x509.ParseCertificate(swapped)
	if err != nil {
		return nil, err
	}
	c.Raw = b
	c.RawTBSCertificate = p.tbs.FullBytes
	c.RawSubjectPublicKeyInfo = p.fields[p.spki].FullBytes
	c.PublicKey, c.PublicKeyAlgorithm = pub, x509.ECDSA
	return c, nil
}

// CreateCertificate is x509.CreateCertificate for keys of package ecc
// (brainpool) as the certificate's key, the signer's, or both; other keys
// go to crypto/x509 unchanged. Like Sign, it serves the virtual passport
// and the tests, to issue documents whose signers crypto/x509 cannot make.
// The certificate is returned parsed with ParseCertificate.
func CreateCertificate(rnd io.Reader, template, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) (*x509.Certificate, error) {
	eccPub, pubIsECC := pub.(*ecc.PublicKey)
	_, privIsECC := priv.Public().(*ecc.PublicKey)
	if !pubIsECC && !privIsECC {
		b, err := x509.CreateCertificate(rnd, template, parent, pub, priv)
		if err != nil {
			return nil, err
		}
		return ParseCertificate(b)
	}
	// crypto/x509 builds the certificate with stand-in keys (the names,
	// extensions and signature algorithm it writes are what is wanted);
	// the real key replaces the stand-in, and the real signer signs.
	standInKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	var spki []byte
	tmpl := *template
	if pubIsECC {
		if spki, err = ecc.MarshalPublicKey(eccPub); err != nil {
			return nil, err
		}
		if tmpl.SubjectKeyId == nil && tmpl.IsCA {
			// RFC 5280 4.2.1.2 method 1, of the real key.
			h := crypto.SHA1.New()
			h.Write(eccPub.Curve.Encode(eccPub.Point))
			tmpl.SubjectKeyId = h.Sum(nil)
		}
		pub = &standInKey.PublicKey
	}
	signer := priv
	if privIsECC {
		signer = standInKey
	}
	if parent == template {
		parent = &tmpl
	}
	if privIsECC {
		// crypto/x509 checks that the signer holds the parent's key:
		// the stand-in does not hold the real one.
		p := *parent
		p.PublicKey = nil
		parent = &p
	}
	b, err := x509.CreateCertificate(rnd, &tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	p, err := splitCertificate(b)
	if err != nil {
		return nil, err
	}
	if spki == nil {
		spki = p.fields[p.spki].FullBytes
	}
	_, tbs := p.join(spki)
	h := crypto.SHA256
	if alg, ok := ecdsaHashes[sigAlgOID(p.sigAlg).String()]; ok {
		h = alg
	}
	d := h.New()
	d.Write(tbs)
	sig, err := priv.Sign(rnd, d.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("pa: sign certificate: %w", err)
	}
	bits, err := asn1.Marshal(asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)})
	if err != nil {
		return nil, err
	}
	return ParseCertificate(der(0x30, concat(tbs, p.sigAlg.FullBytes, bits)))
}

func sigAlgOID(v asn1.RawValue) asn1.ObjectIdentifier {
	var alg struct {
		Algorithm asn1.ObjectIdentifier
		Params    asn1.RawValue `asn1:"optional"`
	}
	asn1.Unmarshal(v.FullBytes, &alg)
	return alg.Algorithm
}
