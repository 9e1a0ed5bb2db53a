package pace

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"

	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/ecc"
	"github.com/guichet/guichet/eid/icao/sm"
	"github.com/guichet/guichet/internal/ber"
)

// passwordKey derives K_pi = KDF(f(π), 3) (Doc 9303 Part 11 9.7.1).
func (s suite) passwordKey(pw Password) ([]byte, error) {
	return sm.KDF(pw.Key, sm.CounterPACE, s.keyLen)
}

// nonce encrypts (chip) or decrypts (reader) the nonce with K_pi: AES in
// CBC mode with a zero IV over one block (Doc 9303 Part 11 4.4).
func nonce(kpi, in []byte, encrypt bool) ([]byte, error) {
	b, err := aes.NewCipher(kpi)
	if err != nil {
		return nil, fmt.Errorf("pace: K_pi: %w", err)
	}
	if len(in) != aes.BlockSize {
		return nil, fmt.Errorf("%w: encrypted nonce of %d bytes, want %d", ErrBadAnswer, len(in), aes.BlockSize)
	}
	out := make([]byte, len(in))
	iv := make([]byte, aes.BlockSize)
	if encrypt {
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, in)
	} else {
		cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, in)
	}
	return out, nil
}

// mapGenerator is the Generic Mapping: G' = s·G + H, where H is the
// shared point of the mapping's ephemeral ECDH (Doc 9303 Part 11 4.4).
func mapGenerator(c *ecc.Curve, s []byte, h ecc.Point) (ecc.Point, error) {
	if h.Infinity() {
		return ecc.Point{}, fmt.Errorf("%w: mapping shared point H is at infinity", ErrBadPoint)
	}
	g := c.Add(c.Mul(new(big.Int).SetBytes(s), c.Generator()), h)
	if g.Infinity() {
		return ecc.Point{}, fmt.Errorf("%w: mapped generator is at infinity", ErrBadPoint)
	}
	return g, nil
}

// sharedSecret is the x-coordinate of k·P on the field's length (BSI
// TR-03111 4.3.1, ECKA-DH), which seeds the session keys.
func sharedSecret(c *ecc.Curve, k *big.Int, p ecc.Point) ([]byte, error) {
	z := c.Mul(k, p)
	if z.Infinity() {
		return nil, fmt.Errorf("%w: shared point at infinity", ErrBadPoint)
	}
	return z.X.FillBytes(make([]byte, c.Size)), nil
}

// sessionKeys derives KS_enc and KS_mac from the shared secret (9.7.1).
func (s suite) sessionKeys(k []byte) (enc, mac []byte, err error) {
	if enc, err = sm.KDF(k, sm.CounterEnc, s.keyLen); err != nil {
		return nil, nil, err
	}
	if mac, err = sm.KDF(k, sm.CounterMAC, s.keyLen); err != nil {
		return nil, nil, err
	}
	return enc, mac, nil
}

// tokenInput is the public key data object the authentication token is
// computed over: 7F49 holding the protocol identifier (06) and the
// uncompressed point (86) (Doc 9303 Part 11 4.4 and BSI TR-03110 Part 3
// D.3.4).
func tokenInput(oid asn1.ObjectIdentifier, pub []byte) []byte {
	return ber.Encode(0x7F49, ber.Encode(0x06, oidContent(oid)), ber.Encode(0x86, pub))
}

// token is the authentication token: AES-CMAC under KS_mac over the other
// side's public key data object, its first 8 bytes.
func token(ksMac []byte, oid asn1.ObjectIdentifier, pub []byte) ([]byte, error) {
	m, err := sm.CMAC(ksMac, tokenInput(oid, pub))
	if err != nil {
		return nil, err
	}
	return m[:8], nil
}

// mseSetAT is the data of MSE:Set AT for PACE: the protocol (80), the
// password reference (83) and the domain parameters (84).
func mseSetAT(info Info, ref byte) []byte {
	d := ber.Encode(0x80, oidContent(info.Protocol))
	d = append(d, 0x83, 0x01, ref)
	if info.ParameterID >= 0 {
		d = append(d, ber.Encode(0x84, big.NewInt(int64(info.ParameterID)).Bytes())...)
	}
	return d
}

// Authenticate runs the reader's side of PACE over t as info describes,
// with the password pw, and returns the AES secure messaging session.
// rnd supplies the ephemeral private keys, mapping first (crypto/rand when
// nil; the worked example's keys in tests).
func Authenticate(ctx context.Context, t apdu.Transmitter, info Info, pw Password, rnd io.Reader) (*sm.Session, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	st, err := info.suite()
	if err != nil {
		return nil, err
	}
	c := st.c
	kpi, err := st.passwordKey(pw)
	if err != nil {
		return nil, err
	}

	r, err := apdu.Send(ctx, t, apdu.Command{INS: 0x22, P1: 0xC1, P2: 0xA4, Data: mseSetAT(info, pw.Ref)})
	if err != nil {
		return nil, fmt.Errorf("pace: MSE:Set AT: %w", err)
	}
	if r.SW != apdu.SWOK {
		return nil, fmt.Errorf("pace: %w", &apdu.StatusError{Op: "MSE:Set AT for " + info.String() + " with the " + pw.Kind(), SW: r.SW})
	}

	// Step 1: the chip's nonce, encrypted with K_pi.
	z, err := generalAuthenticate(ctx, t, 1, dynamicAuth(0, nil), 0x80)
	if err != nil {
		return nil, err
	}
	s, err := nonce(kpi, z, false)
	if err != nil {
		return nil, err
	}

	// Step 2: the mapping's ephemeral ECDH, then G' = s·G + H.
	skMap, err := c.PrivateKey(rnd)
	if err != nil {
		return nil, err
	}
	pkMap := c.Encode(c.Mul(skMap, c.Generator()))
	b, err := generalAuthenticate(ctx, t, 2, dynamicAuth(0x81, pkMap), 0x82)
	if err != nil {
		return nil, err
	}
	pkMapIC, err := c.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: chip's mapping key: %w", ErrBadAnswer, err)
	}
	g, err := mapGenerator(c, s, c.Mul(skMap, pkMapIC))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAnswer, err)
	}

	// Step 3: the key agreement over G'.
	sk, err := c.PrivateKey(rnd)
	if err != nil {
		return nil, err
	}
	pk := c.Encode(c.Mul(sk, g))
	b, err = generalAuthenticate(ctx, t, 3, dynamicAuth(0x83, pk), 0x84)
	if err != nil {
		return nil, err
	}
	pkICPoint, err := c.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: chip's ephemeral key: %w", ErrBadAnswer, err)
	}
	pkIC := c.Encode(pkICPoint)
	// A chip echoing the reader's key would agree on a secret the reader
	// alone chose (Doc 9303 Part 11 4.4: the keys must differ).
	if subtle.ConstantTimeCompare(pkIC, pk) == 1 {
		return nil, fmt.Errorf("%w: chip's ephemeral key is the reader's", ErrBadAnswer)
	}
	k, err := sharedSecret(c, sk, pkICPoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadAnswer, err)
	}
	ksEnc, ksMac, err := st.sessionKeys(k)
	if err != nil {
		return nil, err
	}

	// Step 4: the tokens, each over the other side's key.
	tIFD, err := token(ksMac, info.Protocol, pkIC)
	if err != nil {
		return nil, err
	}
	tIC, err := generalAuthenticate(ctx, t, 4, dynamicAuth(0x85, tIFD), 0x86, 0x87, 0x88)
	if err != nil {
		return nil, err
	}
	want, err := token(ksMac, info.Protocol, pk)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(tIC, want) != 1 {
		return nil, fmt.Errorf("%w: the chip's authentication token does not verify", ErrBadAnswer)
	}
	return sm.NewAESSession(ksEnc, ksMac, make([]byte, aes.BlockSize))
}

// generalAuthenticate sends step n of the chain (the last with CLA 00, the
// others with the chaining bit, CLA 10) and returns the value of the
// expected object of the chip's dynamic authentication data.
func generalAuthenticate(ctx context.Context, t apdu.Transmitter, n int, data []byte, want uint32, extra ...uint32) ([]byte, error) {
	cla := byte(0x10)
	if n == 4 {
		cla = 0x00
	}
	op := fmt.Sprintf("GENERAL AUTHENTICATE step %d", n)
	r, err := apdu.Send(ctx, t, apdu.Command{CLA: cla, INS: 0x86, Data: data, Ne: 256})
	if err != nil {
		return nil, fmt.Errorf("pace: %s: %w", op, err)
	}
	switch {
	case n == 4 && (r.SW == apdu.SWAuthFailed || r.SW&0xFFF0 == 0x63C0 || r.SW == apdu.SWSecurityNotSatisfied):
		// The chip checks the reader's token first: a refusal here is
		// the password's fault.
		return nil, ErrAccessDenied
	case r.SW != apdu.SWOK:
		return nil, fmt.Errorf("pace: %w", &apdu.StatusError{Op: op, SW: r.SW})
	}
	v, err := parseDynamicAuth(r.Data, want, extra...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadAnswer, op, err)
	}
	return v, nil
}
