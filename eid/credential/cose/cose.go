// Package cose implements the single-signer COSE_Sign1 structure of
// RFC 9052 (section 4.2) with the ES256 and EdDSA (Ed25519) algorithms of
// RFC 9053, and the EC2 and OKP key types of COSE_Key (RFC 9052 section 7,
// RFC 9053 section 7.1), as used by the EU Digital COVID Certificate and by
// guichet's signed e-ID codes, key sets and revocation lists.
//
// Decoding is strict, because the input comes from a camera pointed at any
// phone: a message must be tagged 18, must use definite lengths, must not
// repeat a map key, may nest at most a few levels, must carry the algorithm
// in the protected header, must not name a critical header (nothing here
// understands one), and must not put the same label in both header buckets
// (RFC 9052 section 3).
package cose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/fxamacker/cbor/v2"
)

// Algorithm is a COSE algorithm identifier (RFC 9053, IANA "COSE
// Algorithms" registry).
type Algorithm int64

// The signature algorithms this package implements.
const (
	// ES256 is ECDSA on P-256 with SHA-256 (RFC 9053 section 2.1); the
	// signature is r||s, 32 bytes each.
	ES256 Algorithm = -7
	// EdDSA with Ed25519 (RFC 9053 section 2.2); the signature is 64 bytes.
	EdDSA Algorithm = -8
)

// String returns the algorithm's name in the IANA registry.
func (a Algorithm) String() string {
	switch a {
	case ES256:
		return "ES256"
	case EdDSA:
		return "EdDSA"
	}
	return fmt.Sprintf("alg(%d)", int64(a))
}

// AlgorithmFor returns the algorithm that signs with keys of pub's type: ES256
// for a P-256 *ecdsa.PublicKey, EdDSA for an ed25519.PublicKey.
func AlgorithmFor(pub crypto.PublicKey) (Algorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return 0, fmt.Errorf("cose: ECDSA curve %s is not P-256", k.Curve.Params().Name)
		}
		return ES256, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return 0, fmt.Errorf("cose: Ed25519 public key of %d bytes", len(k))
		}
		return EdDSA, nil
	}
	return 0, fmt.Errorf("cose: unsupported public key type %T", pub)
}

// Header labels of RFC 9052 section 3.1.
const (
	labelAlg         = 1
	labelCrit        = 2
	labelContentType = 3
	labelKid         = 4
)

// tagSign1 is the CBOR tag of a COSE_Sign1 message (RFC 9052 section 2).
const tagSign1 = 18

// MaxKeyIDLen bounds a key id; COSE sets no limit, but a kid longer than
// this is not one the platform issues and only serves to waste memory.
const MaxKeyIDLen = 64

// Errors returned by Decode and Verify; they are wrapped with detail.
var (
	// ErrMalformed reports input that is not a well-formed COSE_Sign1 of the
	// profile this package accepts.
	ErrMalformed = errors.New("cose: malformed COSE_Sign1")
	// ErrSignature reports a signature that does not verify, or an algorithm
	// that does not match the key.
	ErrSignature = errors.New("cose: signature does not verify")
)

// Headers are the header parameters this package reads and writes. A zero
// field is absent.
type Headers struct {
	Alg         Algorithm
	KeyID       []byte
	ContentType string
}

// Sign1 is a decoded COSE_Sign1 message (RFC 9052 section 4.2).
type Sign1 struct {
	Protected   Headers
	Unprotected Headers
	Payload     []byte
	Signature   []byte

	// rawProtected is the protected header as it was on the wire: the
	// signature covers these bytes, not a re-encoding of Protected.
	rawProtected []byte
}

// KeyID returns the kid from the protected header, or else from the
// unprotected one. An unprotected kid only selects the key; the signature
// check still binds the message to that key.
func (m *Sign1) KeyID() []byte {
	if m.Protected.KeyID != nil {
		return m.Protected.KeyID
	}
	return m.Unprotected.KeyID
}

// message is the CBOR array of RFC 9052 section 4.2.
type message struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected cbor.RawMessage
	Payload     []byte
	Signature   []byte
}

var (
	// decOuter accepts the one tag a message starts with.
	decOuter = mustDecMode(cbor.TagsAllowed)
	// decInner forbids tags in everything inside.
	decInner = mustDecMode(cbor.TagsForbidden)
	// encMode writes the core deterministic encoding (RFC 8949 section 4.2.1).
	encMode = func() cbor.EncMode {
		em, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			panic(err)
		}
		return em
	}()
)

func mustDecMode(tags cbor.TagsMode) cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            tags,
		MaxNestedLevels:   8,
		MaxArrayElements:  16,
		MaxMapPairs:       16,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}

// Decode parses a tagged COSE_Sign1 message. It checks the structure, not
// the signature: call Verify with the key that KeyID selects.
func Decode(data []byte) (*Sign1, error) {
	var tag cbor.RawTag
	if err := decOuter.Unmarshal(data, &tag); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if tag.Number != tagSign1 {
		return nil, fmt.Errorf("%w: CBOR tag %d, want %d", ErrMalformed, tag.Number, tagSign1)
	}
	var msg message
	if err := decInner.Unmarshal(tag.Content, &msg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if msg.Payload == nil {
		return nil, fmt.Errorf("%w: detached or null payload", ErrMalformed)
	}
	m := &Sign1{Payload: msg.Payload, Signature: msg.Signature, rawProtected: msg.Protected}
	var err error
	// RFC 9052 section 3: a zero-length protected bstr stands for an empty map.
	if len(msg.Protected) > 0 {
		if m.Protected, err = decodeHeaders(msg.Protected); err != nil {
			return nil, fmt.Errorf("%w: protected header: %v", ErrMalformed, err)
		}
	}
	if m.Unprotected, err = decodeHeaders(msg.Unprotected); err != nil {
		return nil, fmt.Errorf("%w: unprotected header: %v", ErrMalformed, err)
	}
	if m.Protected.Alg == 0 {
		// An algorithm outside the signature would let anyone swap it.
		return nil, fmt.Errorf("%w: no algorithm in the protected header", ErrMalformed)
	}
	if m.Unprotected.Alg != 0 {
		return nil, fmt.Errorf("%w: algorithm in the unprotected header", ErrMalformed)
	}
	if m.Protected.KeyID != nil && m.Unprotected.KeyID != nil {
		return nil, fmt.Errorf("%w: kid in both header buckets", ErrMalformed)
	}
	if m.Protected.ContentType != "" && m.Unprotected.ContentType != "" {
		return nil, fmt.Errorf("%w: content type in both header buckets", ErrMalformed)
	}
	return m, nil
}

// decodeHeaders reads a header map. Labels are integers: a text label is
// legal COSE but this profile never writes one, so it is refused rather
// than silently ignored.
func decodeHeaders(raw []byte) (Headers, error) {
	var h Headers
	var m map[int64]cbor.RawMessage
	if err := decInner.Unmarshal(raw, &m); err != nil {
		return h, err
	}
	if m == nil {
		return h, errors.New("not a map")
	}
	for label, v := range m {
		switch label {
		case labelAlg:
			var a int64
			if err := decInner.Unmarshal(v, &a); err != nil {
				return h, fmt.Errorf("alg: %v", err)
			}
			if a == 0 {
				return h, errors.New("alg 0 is reserved")
			}
			h.Alg = Algorithm(a)
		case labelCrit:
			return h, errors.New("critical header parameters are not supported")
		case labelContentType:
			var ct string
			if err := decInner.Unmarshal(v, &ct); err != nil {
				return h, fmt.Errorf("content type: %v", err)
			}
			if ct == "" {
				return h, errors.New("empty content type")
			}
			h.ContentType = ct
		case labelKid:
			var kid []byte
			if err := decInner.Unmarshal(v, &kid); err != nil {
				return h, fmt.Errorf("kid: %v", err)
			}
			if len(kid) == 0 || len(kid) > MaxKeyIDLen {
				return h, fmt.Errorf("kid of %d bytes", len(kid))
			}
			h.KeyID = kid
		}
	}
	return h, nil
}

// encodeHeaders writes the non-zero fields of h as a header map.
func encodeHeaders(h Headers) ([]byte, error) {
	m := map[int64]any{}
	if h.Alg != 0 {
		m[labelAlg] = int64(h.Alg)
	}
	if h.ContentType != "" {
		m[labelContentType] = h.ContentType
	}
	if h.KeyID != nil {
		m[labelKid] = h.KeyID
	}
	return encMode.Marshal(m)
}

// sigStructure returns the Sig_structure of RFC 9052 section 4.4 for a
// COSE_Sign1 with no external additional authenticated data.
func sigStructure(protected, payload []byte) ([]byte, error) {
	if protected == nil {
		protected = []byte{}
	}
	return encMode.Marshal([]any{"Signature1", protected, []byte{}, payload})
}

// Sign returns a tagged COSE_Sign1 message over payload, signed by signer,
// with the protected headers h (whose Alg is set from the signer's key) and
// an empty unprotected header. signer is an *ecdsa.PrivateKey on P-256, an
// ed25519.PrivateKey, or any crypto.Signer holding such a key (an HSM).
func Sign(rand io.Reader, signer crypto.Signer, h Headers, payload []byte) ([]byte, error) {
	return SignHeaders(rand, signer, h, Headers{}, payload)
}

// SignHeaders is Sign with unprotected headers u as well; u.Alg must be
// zero, and a kid goes in one bucket only.
func SignHeaders(rand io.Reader, signer crypto.Signer, h, u Headers, payload []byte) ([]byte, error) {
	if u.Alg != 0 {
		return nil, errors.New("cose: algorithm in the unprotected header")
	}
	if h.KeyID != nil && u.KeyID != nil {
		return nil, errors.New("cose: kid in both header buckets")
	}
	alg, err := AlgorithmFor(signer.Public())
	if err != nil {
		return nil, err
	}
	if h.Alg != 0 && h.Alg != alg {
		return nil, fmt.Errorf("cose: header algorithm %s but %s key", h.Alg, alg)
	}
	h.Alg = alg
	if len(h.KeyID) > MaxKeyIDLen || len(u.KeyID) > MaxKeyIDLen {
		return nil, errors.New("cose: kid too long")
	}
	protected, err := encodeHeaders(h)
	if err != nil {
		return nil, fmt.Errorf("cose: encode protected header: %w", err)
	}
	unprotected, err := encodeHeaders(u)
	if err != nil {
		return nil, fmt.Errorf("cose: encode unprotected header: %w", err)
	}
	if payload == nil {
		payload = []byte{}
	}
	tbs, err := sigStructure(protected, payload)
	if err != nil {
		return nil, fmt.Errorf("cose: encode Sig_structure: %w", err)
	}
	var sig []byte
	switch alg {
	case ES256:
		digest := sha256.Sum256(tbs)
		der, err := signer.Sign(rand, digest[:], crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("cose: sign: %w", err)
		}
		// crypto.Signer gives ASN.1 DER; COSE wants fixed-size r||s
		// (RFC 9053 section 2.1).
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			return nil, fmt.Errorf("cose: signer returned a bad ECDSA signature: %w", err)
		}
		sig = make([]byte, 64)
		rs.R.FillBytes(sig[:32])
		rs.S.FillBytes(sig[32:])
	case EdDSA:
		if sig, err = signer.Sign(rand, tbs, crypto.Hash(0)); err != nil {
			return nil, fmt.Errorf("cose: sign: %w", err)
		}
	}
	out, err := encMode.Marshal(cbor.Tag{Number: tagSign1, Content: message{
		Protected:   protected,
		Unprotected: unprotected,
		Payload:     payload,
		Signature:   sig,
	}})
	if err != nil {
		return nil, fmt.Errorf("cose: encode COSE_Sign1: %w", err)
	}
	return out, nil
}

// Verify checks the signature of m with pub, whose type must match the
// message's algorithm (RFC 9052 section 4.4).
func (m *Sign1) Verify(pub crypto.PublicKey) error {
	alg, err := AlgorithmFor(pub)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if alg != m.Protected.Alg {
		return fmt.Errorf("%w: message algorithm %s, key algorithm %s", ErrSignature, m.Protected.Alg, alg)
	}
	tbs, err := sigStructure(m.rawProtected, m.Payload)
	if err != nil {
		return fmt.Errorf("cose: encode Sig_structure: %w", err)
	}
	switch alg {
	case ES256:
		if len(m.Signature) != 64 {
			return fmt.Errorf("%w: ES256 signature of %d bytes, want 64", ErrSignature, len(m.Signature))
		}
		digest := sha256.Sum256(tbs)
		r := new(big.Int).SetBytes(m.Signature[:32])
		s := new(big.Int).SetBytes(m.Signature[32:])
		if !ecdsa.Verify(pub.(*ecdsa.PublicKey), digest[:], r, s) {
			return ErrSignature
		}
	case EdDSA:
		if len(m.Signature) != ed25519.SignatureSize {
			return fmt.Errorf("%w: EdDSA signature of %d bytes, want 64", ErrSignature, len(m.Signature))
		}
		if !ed25519.Verify(pub.(ed25519.PublicKey), tbs, m.Signature) {
			return ErrSignature
		}
	}
	return nil
}
