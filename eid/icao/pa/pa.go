// Package pa implements passive authentication of an eMRTD, ICAO Doc 9303
// Part 11 section 5.1 and Part 10 section 4.6.2: it parses the Document
// Security Object (EF.SOD, a CMS SignedData of RFC 5652 whose content is an
// LDSSecurityObject), checks the hash of each data group read, verifies the
// document signer's signature over the signed attributes, and verifies the
// document signer certificate against the country signing CAs (CSCA)
// configured on the appliance.
//
// Sign builds such an object; the virtual ePassport and the tests use it
// to issue documents.
package pa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/guichet/guichet/eid/icao/ecc"

	_ "crypto/sha1" // hash functions named by Doc 9303 Part 12
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// Errors of passive authentication. ErrHashMismatch means a data group
// differs from what the issuer signed; ErrSignature that EF.SOD itself was
// altered; ErrUntrusted that no configured CSCA vouches for the signer.
var (
	ErrMalformed    = errors.New("pa: malformed document security object")
	ErrHashMismatch = errors.New("pa: data group hash mismatch")
	ErrNoHash       = errors.New("pa: data group not covered by the security object")
	ErrSignature    = errors.New("pa: document signer signature does not verify")
	ErrUntrusted    = errors.New("pa: document signer not issued by a trusted CSCA")
)

// Object identifiers of RFC 5652, RFC 5754, RFC 8017, X9.62, BSI TR-03111
// and Doc 9303 Part 10 (id-icao-mrtd-security-ldsSecurityObject).
var (
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidLDSSecurity   = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 1}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}

	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidRSA          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAPSS       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidSHA256RSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidECPublicKey  = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSASHA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAPlain   = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 1, 1, 4, 1} // BSI TR-03111 ecdsa-plain-signatures
	oidMGF1         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	rsaPKCS1Hashes  = map[string]crypto.Hash{"1.2.840.113549.1.1.5": crypto.SHA1, "1.2.840.113549.1.1.14": crypto.SHA224, "1.2.840.113549.1.1.11": crypto.SHA256, "1.2.840.113549.1.1.12": crypto.SHA384, "1.2.840.113549.1.1.13": crypto.SHA512}
	ecdsaHashes     = map[string]crypto.Hash{"1.2.840.10045.4.1": crypto.SHA1, "1.2.840.10045.4.3.1": crypto.SHA224, "1.2.840.10045.4.3.2": crypto.SHA256, "1.2.840.10045.4.3.3": crypto.SHA384, "1.2.840.10045.4.3.4": crypto.SHA512}
	ecdsaPlainHashs = map[int]crypto.Hash{1: crypto.SHA1, 2: crypto.SHA224, 3: crypto.SHA256, 4: crypto.SHA384, 5: crypto.SHA512}
)

func hashByOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	for _, h := range []struct {
		oid asn1.ObjectIdentifier
		h   crypto.Hash
	}{{oidSHA1, crypto.SHA1}, {oidSHA224, crypto.SHA224}, {oidSHA256, crypto.SHA256}, {oidSHA384, crypto.SHA384}, {oidSHA512, crypto.SHA512}} {
		if oid.Equal(h.oid) {
			return h.h, true
		}
	}
	return 0, false
}

func oidByHash(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	switch h {
	case crypto.SHA1:
		return oidSHA1, true
	case crypto.SHA224:
		return oidSHA224, true
	case crypto.SHA256:
		return oidSHA256, true
	case crypto.SHA384:
		return oidSHA384, true
	case crypto.SHA512:
		return oidSHA512, true
	}
	return nil, false
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue `asn1:"explicit,optional,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      asn1.RawValue
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue
}

type dataGroupHash struct {
	Number int
	Hash   []byte
}

type ldsSecurityObject struct {
	Version        int
	HashAlgorithm  pkix.AlgorithmIdentifier
	Hashes         []dataGroupHash
	LDSVersionInfo asn1.RawValue `asn1:"optional"`
}

// SOD is a parsed Document Security Object.
type SOD struct {
	// HashAlg hashes the data groups.
	HashAlg crypto.Hash
	// Hashes maps data group numbers to their hashes.
	Hashes map[int][]byte
	// Signer is the document signer certificate found in the object.
	Signer *x509.Certificate

	digestAlg   crypto.Hash
	signedAttrs []byte // DER with the SET tag, as signed
	sigAlg      pkix.AlgorithmIdentifier
	signature   []byte
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// unmarshal decodes exactly one DER value into v.
func unmarshal(b []byte, v any, what string) error {
	rest, err := asn1.Unmarshal(b, v)
	if err != nil {
		return malformed("%s: %v", what, err)
	}
	if len(rest) != 0 {
		return malformed("%s: %d trailing bytes", what, len(rest))
	}
	return nil
}

// Parse decodes a CMS ContentInfo holding SignedData with an
// LDSSecurityObject and exactly one signer (Doc 9303 Part 10 4.6.2).
func Parse(cms []byte) (*SOD, error) {
	var ci contentInfo
	if err := unmarshal(cms, &ci, "content info"); err != nil {
		return nil, err
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, malformed("content type %v is not signed data", ci.ContentType)
	}
	var sd signedData
	if err := unmarshal(ci.Content.Bytes, &sd, "signed data"); err != nil {
		return nil, err
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidLDSSecurity) {
		return nil, malformed("encapsulated content %v is not an LDS security object", sd.EncapContentInfo.EContentType)
	}
	var eContent []byte
	if err := unmarshal(sd.EncapContentInfo.EContent.Bytes, &eContent, "encapsulated content"); err != nil {
		return nil, err
	}
	var lso ldsSecurityObject
	if err := unmarshal(eContent, &lso, "LDS security object"); err != nil {
		return nil, err
	}
	s := &SOD{Hashes: map[int][]byte{}}
	var ok bool
	if s.HashAlg, ok = hashByOID(lso.HashAlgorithm.Algorithm); !ok {
		return nil, malformed("hash algorithm %v not supported", lso.HashAlgorithm.Algorithm)
	}
	for _, h := range lso.Hashes {
		if h.Number < 1 || h.Number > 16 {
			return nil, malformed("data group number %d", h.Number)
		}
		if len(h.Hash) != s.HashAlg.Size() {
			return nil, malformed("hash of DG%d has %d bytes, want %d", h.Number, len(h.Hash), s.HashAlg.Size())
		}
		if _, dup := s.Hashes[h.Number]; dup {
			return nil, malformed("DG%d hashed twice", h.Number)
		}
		s.Hashes[h.Number] = h.Hash
	}

	if sd.SignerInfos.Tag != asn1.TagSet {
		return nil, malformed("signer infos are not a set")
	}
	var si signerInfo
	if err := unmarshal(sd.SignerInfos.Bytes, &si, "signer info (exactly one)"); err != nil {
		return nil, err
	}
	if s.digestAlg, ok = hashByOID(si.DigestAlgorithm.Algorithm); !ok {
		return nil, malformed("signer digest algorithm %v not supported", si.DigestAlgorithm.Algorithm)
	}
	s.sigAlg, s.signature = si.SignatureAlgorithm, si.Signature
	if len(si.SignedAttrs.FullBytes) == 0 {
		return nil, malformed("no signed attributes")
	}
	// The signature covers the attributes with their universal SET tag
	// (RFC 5652 5.4), not the [0] IMPLICIT tag they carry here.
	s.signedAttrs = append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	var digest []byte
	var ctype asn1.ObjectIdentifier
	for rest := si.SignedAttrs.Bytes; len(rest) > 0; {
		var a attribute
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			return nil, malformed("signed attribute: %v", err)
		}
		switch {
		case a.Type.Equal(oidMessageDigest):
			if err := unmarshal(a.Values.Bytes, &digest, "message digest"); err != nil {
				return nil, err
			}
		case a.Type.Equal(oidContentType):
			if err := unmarshal(a.Values.Bytes, &ctype, "content type attribute"); err != nil {
				return nil, err
			}
		}
	}
	if !ctype.Equal(oidLDSSecurity) {
		return nil, malformed("content type attribute %v", ctype)
	}
	h := s.digestAlg.New()
	h.Write(eContent)
	if subtle.ConstantTimeCompare(h.Sum(nil), digest) != 1 {
		return nil, fmt.Errorf("%w: message digest does not match the LDS security object", ErrSignature)
	}

	if len(sd.Certificates.Bytes) == 0 {
		return nil, malformed("no document signer certificate")
	}
	var certs []*x509.Certificate
	for rest := sd.Certificates.Bytes; len(rest) > 0; {
		var raw asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &raw); err != nil {
			return nil, malformed("certificates: %v", err)
		}
		c, err := ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, malformed("certificates: %v", err)
		}
		certs = append(certs, c)
	}
	for _, c := range certs {
		if matchSID(si.SID, c) {
			s.Signer = c
			break
		}
	}
	if s.Signer == nil {
		return nil, malformed("no certificate matches the signer identifier")
	}
	return s, nil
}

// matchSID reports whether c is the certificate the signer identifier names
// (RFC 5652 5.3: issuer and serial number, or [0] subject key identifier).
func matchSID(sid asn1.RawValue, c *x509.Certificate) bool {
	if sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 {
		return len(c.SubjectKeyId) > 0 && bytes.Equal(sid.Bytes, c.SubjectKeyId)
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil || ias.Serial == nil {
		return false
	}
	return bytes.Equal(ias.Issuer.FullBytes, c.RawIssuer) && ias.Serial.Cmp(c.SerialNumber) == 0
}

// CheckDataGroup checks the content of data group n (the whole file as
// read) against its hash in the security object.
func (s *SOD) CheckDataGroup(n int, content []byte) error {
	want, ok := s.Hashes[n]
	if !ok {
		return fmt.Errorf("%w: DG%d", ErrNoHash, n)
	}
	h := s.HashAlg.New()
	h.Write(content)
	if subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
		return fmt.Errorf("%w: DG%d", ErrHashMismatch, n)
	}
	return nil
}

// VerifySignature verifies the document signer's signature over the
// signed attributes (which carry the digest of the LDS security object).
func (s *SOD) VerifySignature() error {
	if err := verify(s.Signer.PublicKey, s.sigAlg, s.digestAlg, s.signedAttrs, s.signature); err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	return nil
}

type pssParams struct {
	Hash       pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:0"`
	MGF        pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:1"`
	SaltLength int                      `asn1:"explicit,optional,tag:2,default:20"`
}

// verify checks sig over msg with the algorithm alg (fallback is the hash
// to use where alg does not name one, as CMS allows for rsaEncryption).
func verify(pub any, alg pkix.AlgorithmIdentifier, fallback crypto.Hash, msg, sig []byte) error {
	oid := alg.Algorithm
	digest := func(h crypto.Hash) []byte { d := h.New(); d.Write(msg); return d.Sum(nil) }
	switch {
	case oid.Equal(oidRSA), rsaPKCS1Hashes[oid.String()] != 0:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return errors.New("RSA signature from a non-RSA key")
		}
		h := rsaPKCS1Hashes[oid.String()]
		if h == 0 {
			h = fallback
		}
		return rsa.VerifyPKCS1v15(k, h, digest(h), sig)
	case oid.Equal(oidRSAPSS):
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return errors.New("RSA-PSS signature from a non-RSA key")
		}
		p := pssParams{SaltLength: 20}
		h := crypto.SHA1
		if len(alg.Parameters.FullBytes) > 0 {
			if _, err := asn1.Unmarshal(alg.Parameters.FullBytes, &p); err != nil {
				return fmt.Errorf("RSA-PSS parameters: %w", err)
			}
			if len(p.Hash.Algorithm) > 0 {
				var ok bool
				if h, ok = hashByOID(p.Hash.Algorithm); !ok {
					return fmt.Errorf("RSA-PSS hash %v not supported", p.Hash.Algorithm)
				}
			}
			if len(p.MGF.Algorithm) > 0 && !p.MGF.Algorithm.Equal(oidMGF1) {
				return fmt.Errorf("RSA-PSS mask generation %v not supported", p.MGF.Algorithm)
			}
		}
		return rsa.VerifyPSS(k, h, digest(h), sig, &rsa.PSSOptions{SaltLength: p.SaltLength, Hash: h})
	case ecdsaHashes[oid.String()] != 0, oid.Equal(oidECPublicKey):
		h := ecdsaHashes[oid.String()]
		if h == 0 {
			h = fallback
		}
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(k, digest(h), sig) {
				return errors.New("ECDSA signature invalid")
			}
		case *ecc.PublicKey:
			// A curve crypto/ecdsa lacks (brainpool), parsed by
			// ParseCertificate.
			if !ecc.VerifyASN1(k, digest(h), sig) {
				return fmt.Errorf("ECDSA signature on %s invalid", k.Curve.Name)
			}
		default:
			return errors.New("ECDSA signature from a non-EC key")
		}
		return nil
	case len(oid) == len(oidECDSAPlain)+1 && oid[:len(oidECDSAPlain)].Equal(oidECDSAPlain) && ecdsaPlainHashs[oid[len(oid)-1]] != 0:
		d := digest(ecdsaPlainHashs[oid[len(oid)-1]])
		var n int
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			n = (k.Curve.Params().BitSize + 7) / 8
		case *ecc.PublicKey:
			n = k.Curve.Size
		default:
			return errors.New("ECDSA signature from a non-EC key")
		}
		if len(sig) != 2*n {
			return fmt.Errorf("plain ECDSA signature of %d bytes, want %d", len(sig), 2*n)
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		ok := false
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			ok = ecdsa.Verify(k, d, r, s)
		case *ecc.PublicKey:
			ok = ecc.Verify(k, d, r, s)
		}
		if !ok {
			return errors.New("ECDSA signature invalid")
		}
		return nil
	}
	return fmt.Errorf("signature algorithm %v not supported", oid)
}

// certAlgs maps the x509 signature algorithms to their verification, so
// that SHA-1 certificates, which crypto/x509 no longer verifies but which
// older CSCAs still use, can be checked.
var certAlgs = map[x509.SignatureAlgorithm]pkix.AlgorithmIdentifier{
	x509.SHA1WithRSA:     {Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}},
	x509.SHA256WithRSA:   {Algorithm: oidSHA256RSA},
	x509.SHA384WithRSA:   {Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}},
	x509.SHA512WithRSA:   {Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}},
	x509.ECDSAWithSHA1:   {Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}},
	x509.ECDSAWithSHA256: {Algorithm: oidECDSASHA256},
	x509.ECDSAWithSHA384: {Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}},
	x509.ECDSAWithSHA512: {Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}},
}

// Pool is a set of trusted country signing CA certificates.
type Pool struct {
	certs []*x509.Certificate
}

// NewPool returns a pool holding certs.
func NewPool(certs ...*x509.Certificate) *Pool { return &Pool{certs: certs} }

// Len returns the number of certificates in p.
func (p *Pool) Len() int {
	if p == nil {
		return 0
	}
	return len(p.certs)
}

// VerifySigner checks that the document signer certificate was issued and
// signed by one of the CSCAs in p (Doc 9303 Part 11 5.1.1 step 1). Validity
// periods are not enforced: a document signer key signs documents valid
// long after its own usage period ends (Part 12 section 5).
func (s *SOD) VerifySigner(p *Pool) error {
	if p.Len() == 0 {
		return fmt.Errorf("%w: no CSCA configured", ErrUntrusted)
	}
	ds := s.Signer
	var last error
	for _, ca := range p.certs {
		if !bytes.Equal(ds.RawIssuer, ca.RawSubject) {
			continue
		}
		if !ca.BasicConstraintsValid || !ca.IsCA {
			last = fmt.Errorf("CSCA %q is not a CA certificate", ca.Subject.CommonName)
			continue
		}
		if ds.SignatureAlgorithm == x509.SHA256WithRSAPSS || ds.SignatureAlgorithm == x509.SHA384WithRSAPSS || ds.SignatureAlgorithm == x509.SHA512WithRSAPSS {
			last = ds.CheckSignatureFrom(ca)
		} else if alg, ok := certAlgs[ds.SignatureAlgorithm]; ok {
			last = verify(ca.PublicKey, alg, 0, ds.RawTBSCertificate, ds.Signature)
		} else {
			last = fmt.Errorf("certificate signature algorithm %v not supported", ds.SignatureAlgorithm)
		}
		if last == nil {
			return nil
		}
	}
	if last == nil {
		return fmt.Errorf("%w: issuer %q unknown", ErrUntrusted, ds.Issuer.String())
	}
	return fmt.Errorf("%w: %w", ErrUntrusted, last)
}

// sortedSet encodes DER SET OF elements, sorted as X.690 11.6 requires.
func sortedSet(tag byte, elems [][]byte) []byte {
	sort.Slice(elems, func(i, j int) bool { return bytes.Compare(elems[i], elems[j]) < 0 })
	return der(tag, bytes.Join(elems, nil))
}
