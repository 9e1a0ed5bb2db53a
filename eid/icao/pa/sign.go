package pa

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"sort"

	"github.com/guichet/guichet/eid/icao/ecc"
	"github.com/guichet/guichet/internal/ber"
)

// der encodes a DER element; ber writes minimal definite lengths, which is
// what DER requires.
func der(tag byte, content []byte) []byte { return ber.Encode(uint32(tag), content) }

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("pa: marshal %T: %v", v, err))
	}
	return b
}

func algID(oid asn1.ObjectIdentifier, nullParams bool) []byte {
	if nullParams {
		return der(0x30, append(mustMarshal(oid), 0x05, 0x00))
	}
	return der(0x30, mustMarshal(oid))
}

// Signer is a document signer: its certificate and private key, and the
// hash algorithm it uses for data groups and signature alike.
type Signer struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	Hash crypto.Hash
}

// Sign builds the Document Security Object (CMS SignedData, Doc 9303 Part
// 10 4.6.2) over the data groups dgs, keyed by number, each the whole file.
// The result is what EF.SOD holds inside its tag 77.
func Sign(s Signer, dgs map[int][]byte) ([]byte, error) {
	if s.Hash == 0 {
		s.Hash = crypto.SHA256
	}
	hashOID, ok := oidByHash(s.Hash)
	if !ok {
		return nil, fmt.Errorf("pa: hash %v not supported", s.Hash)
	}
	if len(dgs) == 0 {
		return nil, errors.New("pa: no data group to sign")
	}
	nums := make([]int, 0, len(dgs))
	for n := range dgs {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	var hashes []byte
	for _, n := range nums {
		h := s.Hash.New()
		h.Write(dgs[n])
		hashes = append(hashes, der(0x30, append(mustMarshal(n), mustMarshal(h.Sum(nil))...))...)
	}
	lso := der(0x30, concat(mustMarshal(0), algID(hashOID, false), der(0x30, hashes)))

	h := s.Hash.New()
	h.Write(lso)
	attrs := [][]byte{
		der(0x30, append(mustMarshal(oidContentType), der(0x31, mustMarshal(oidLDSSecurity))...)),
		der(0x30, append(mustMarshal(oidMessageDigest), der(0x31, mustMarshal(h.Sum(nil)))...)),
	}
	signedAttrs := sortedSet(0x31, attrs)
	h = s.Hash.New()
	h.Write(signedAttrs)
	sig, err := s.Key.Sign(rand.Reader, h.Sum(nil), s.Hash)
	if err != nil {
		return nil, fmt.Errorf("pa: sign: %w", err)
	}
	var sigAlg []byte
	switch s.Key.Public().(type) {
	case *ecdsa.PublicKey, *ecc.PublicKey:
		oid, ok := map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA1: {1, 2, 840, 10045, 4, 1}, crypto.SHA224: {1, 2, 840, 10045, 4, 3, 1}, crypto.SHA256: oidECDSASHA256, crypto.SHA384: {1, 2, 840, 10045, 4, 3, 3}, crypto.SHA512: {1, 2, 840, 10045, 4, 3, 4}}[s.Hash]
		if !ok {
			return nil, fmt.Errorf("pa: ECDSA with %v not supported", s.Hash)
		}
		sigAlg = algID(oid, false)
	case *rsa.PublicKey:
		sigAlg = algID(oidRSA, true)
	default:
		return nil, fmt.Errorf("pa: key type %T not supported", s.Key.Public())
	}

	sid := der(0x30, concat(s.Cert.RawIssuer, mustMarshal(s.Cert.SerialNumber)))
	signerInfo := der(0x30, concat(
		mustMarshal(1),
		sid,
		algID(hashOID, false),
		append([]byte{0xA0}, signedAttrs[1:]...),
		sigAlg,
		mustMarshal(sig),
	))
	encap := der(0x30, concat(mustMarshal(oidLDSSecurity), der(0xA0, mustMarshal(lso))))
	sd := der(0x30, concat(
		mustMarshal(3),
		der(0x31, algID(hashOID, false)),
		encap,
		der(0xA0, s.Cert.Raw),
		der(0x31, signerInfo),
	))
	return der(0x30, concat(mustMarshal(oidSignedData), der(0xA0, sd))), nil
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
