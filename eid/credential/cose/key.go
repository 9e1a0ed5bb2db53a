package cose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// COSE_Key labels and values (RFC 9052 section 7.1, RFC 9053 section 7).
const (
	keyLabelKty = 1
	keyLabelKid = 2
	keyLabelAlg = 3
	keyLabelCrv = -1
	keyLabelX   = -2
	keyLabelY   = -3

	ktyOKP = 1
	ktyEC2 = 2

	crvP256    = 1
	crvEd25519 = 6
)

// Key is a public key with its key id, as a COSE_Key (RFC 9052 section 7):
// kty EC2 with crv P-256 and uncompressed x, y for ES256, or kty OKP with crv
// Ed25519 and x for EdDSA. It implements cbor.Marshaler and
// cbor.Unmarshaler.
type Key struct {
	ID     []byte
	Public crypto.PublicKey // *ecdsa.PublicKey on P-256 or ed25519.PublicKey
}

// Alg returns the algorithm the key verifies, or 0 for an unsupported key.
func (k Key) Alg() Algorithm {
	a, _ := AlgorithmFor(k.Public)
	return a
}

type rawKey struct {
	Kty int64  `cbor:"1,keyasint"`
	Kid []byte `cbor:"2,keyasint,omitempty"`
	Alg int64  `cbor:"3,keyasint,omitempty"`
	Crv int64  `cbor:"-1,keyasint"`
	X   []byte `cbor:"-2,keyasint"`
	Y   []byte `cbor:"-3,keyasint,omitempty"`
}

// MarshalCBOR encodes k as a COSE_Key map.
func (k Key) MarshalCBOR() ([]byte, error) {
	alg, err := AlgorithmFor(k.Public)
	if err != nil {
		return nil, err
	}
	if len(k.ID) == 0 || len(k.ID) > MaxKeyIDLen {
		return nil, fmt.Errorf("cose: kid of %d bytes", len(k.ID))
	}
	rk := rawKey{Kid: k.ID, Alg: int64(alg)}
	switch pub := k.Public.(type) {
	case *ecdsa.PublicKey:
		b, err := pub.Bytes() // 0x04 || x || y (SEC 1 section 2.3.3)
		if err != nil {
			return nil, fmt.Errorf("cose: %w", err)
		}
		rk.Kty, rk.Crv, rk.X, rk.Y = ktyEC2, crvP256, b[1:33], b[33:]
	case ed25519.PublicKey:
		rk.Kty, rk.Crv, rk.X = ktyOKP, crvEd25519, pub
	}
	return encMode.Marshal(rk)
}

// UnmarshalCBOR decodes a COSE_Key map, refusing key types, curves and
// algorithms other than ES256 on P-256 and EdDSA on Ed25519, and points not
// on the curve.
func (k *Key) UnmarshalCBOR(data []byte) error {
	var rk rawKey
	if err := decInner.Unmarshal(data, &rk); err != nil {
		return fmt.Errorf("cose: COSE_Key: %w", err)
	}
	if len(rk.Kid) == 0 || len(rk.Kid) > MaxKeyIDLen {
		return fmt.Errorf("cose: COSE_Key: kid of %d bytes", len(rk.Kid))
	}
	var pub crypto.PublicKey
	switch {
	case rk.Kty == ktyEC2 && rk.Crv == crvP256:
		if len(rk.X) != 32 || len(rk.Y) != 32 {
			return fmt.Errorf("cose: COSE_Key: P-256 coordinates of %d and %d bytes", len(rk.X), len(rk.Y))
		}
		p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, rk.X...), rk.Y...))
		if err != nil {
			return fmt.Errorf("cose: COSE_Key: %w", err)
		}
		pub = p
	case rk.Kty == ktyOKP && rk.Crv == crvEd25519:
		if len(rk.X) != ed25519.PublicKeySize || rk.Y != nil {
			return errors.New("cose: COSE_Key: bad Ed25519 key")
		}
		pub = ed25519.PublicKey(append([]byte(nil), rk.X...))
	default:
		return fmt.Errorf("cose: COSE_Key: unsupported kty %d crv %d", rk.Kty, rk.Crv)
	}
	alg, _ := AlgorithmFor(pub)
	if rk.Alg != 0 && Algorithm(rk.Alg) != alg {
		return fmt.Errorf("cose: COSE_Key: alg %s for a %s key", Algorithm(rk.Alg), alg)
	}
	k.ID, k.Public = rk.Kid, pub
	return nil
}

var (
	_ cbor.Marshaler   = Key{}
	_ cbor.Unmarshaler = (*Key)(nil)
)
