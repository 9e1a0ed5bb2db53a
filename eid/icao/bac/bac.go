// Package bac implements Basic Access Control, ICAO Doc 9303 Part 11
// section 4.3: the document basic access keys derived from the MRZ
// (section 9.7.2), and the mutual authentication of reader and chip with
// GET CHALLENGE and EXTERNAL AUTHENTICATE that yields a secure messaging
// session (section 9.7.3, Appendix D.3).
//
// Both sides are here: Authenticate for the reader (IFD) and Chip for the
// chip (IC), which the virtual ePassport uses.
package bac

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/mrz"
	"github.com/guichet/guichet/eid/icao/sm"
)

// ErrAccessDenied is returned when the chip refuses the reader's
// cryptogram, which means the MRZ data used for the keys is wrong.
var ErrAccessDenied = errors.New("bac: chip refused the access keys (wrong MRZ data?)")

// ErrBadAnswer is returned when the chip's answers do not follow the
// protocol: wrong lengths, a wrong MAC or a nonce that is not the reader's.
var ErrBadAnswer = errors.New("bac: chip answered outside the protocol")

// Keys are the document basic access keys K_enc and K_mac.
type Keys struct {
	Enc, MAC []byte
}

// Seed returns K_seed, the first 16 bytes of SHA-1 over the MRZ information
// (Doc 9303 Part 11 9.7.2).
func Seed(mrzInfo string) []byte {
	h := sha1.Sum([]byte(mrzInfo))
	return h[:16]
}

// KeysFromSeed derives K_enc and K_mac from K_seed.
func KeysFromSeed(seed []byte) Keys {
	return Keys{Enc: sm.DeriveKey(seed, sm.CounterEnc), MAC: sm.DeriveKey(seed, sm.CounterMAC)}
}

// KeysFromMRZ derives the document basic access keys from the document
// number and the birth and expiry dates (YYMMDD) printed in the MRZ.
func KeysFromMRZ(documentNumber, birthDate, expiryDate string) (Keys, error) {
	info, err := mrz.KeyInfo(documentNumber, birthDate, expiryDate)
	if err != nil {
		return Keys{}, err
	}
	return KeysFromSeed(Seed(info)), nil
}

// session derives the session keys from K.IFD xor K.IC and the SSC from the
// low halves of the nonces (Doc 9303 Part 11 9.7.3 and 9.8.2).
func session(kIFD, kIC, rndIC, rndIFD []byte) (*sm.Session, error) {
	seed := make([]byte, 16)
	subtle.XORBytes(seed, kIFD, kIC)
	ssc := append(append([]byte{}, rndIC[4:8]...), rndIFD[4:8]...)
	return sm.NewSession(sm.DeriveKey(seed, sm.CounterEnc), sm.DeriveKey(seed, sm.CounterMAC), ssc)
}

// Authenticate runs the reader's side of Basic Access Control over t with
// the keys k and returns the secure messaging session. rnd supplies RND.IFD
// and K.IFD (crypto/rand.Reader when nil; the worked example's values in
// tests).
func Authenticate(ctx context.Context, t apdu.Transmitter, k Keys, rnd io.Reader) (*sm.Session, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	r, err := apdu.Send(ctx, t, apdu.Command{INS: 0x84, Ne: 8})
	if err != nil {
		return nil, fmt.Errorf("bac: get challenge: %w", err)
	}
	if r.SW != apdu.SWOK {
		return nil, fmt.Errorf("bac: %w", &apdu.StatusError{Op: "get challenge", SW: r.SW})
	}
	if len(r.Data) != 8 {
		return nil, fmt.Errorf("%w: challenge of %d bytes", ErrBadAnswer, len(r.Data))
	}
	rndIC := r.Data
	buf := make([]byte, 24)
	if _, err := io.ReadFull(rnd, buf); err != nil {
		return nil, fmt.Errorf("bac: random: %w", err)
	}
	rndIFD, kIFD := buf[:8], buf[8:]
	s := append(append(append([]byte{}, rndIFD...), rndIC...), kIFD...)
	eIFD, err := sm.Encrypt(k.Enc, s)
	if err != nil {
		return nil, err
	}
	mIFD, err := sm.MAC(k.MAC, eIFD)
	if err != nil {
		return nil, err
	}
	r, err = apdu.Send(ctx, t, apdu.Command{INS: 0x82, Data: append(eIFD, mIFD...), Ne: 40})
	if err != nil {
		return nil, fmt.Errorf("bac: external authenticate: %w", err)
	}
	switch {
	case r.SW == apdu.SWAuthFailed || r.SW == apdu.SWSecurityNotSatisfied || r.SW&0xFFF0 == 0x63C0:
		return nil, ErrAccessDenied
	case r.SW != apdu.SWOK:
		return nil, fmt.Errorf("bac: %w", &apdu.StatusError{Op: "external authenticate", SW: r.SW})
	case len(r.Data) != 40:
		return nil, fmt.Errorf("%w: authentication answer of %d bytes", ErrBadAnswer, len(r.Data))
	}
	eIC, mIC := r.Data[:32], r.Data[32:]
	if m, _ := sm.MAC(k.MAC, eIC); subtle.ConstantTimeCompare(m, mIC) != 1 {
		return nil, fmt.Errorf("%w: M_IC does not verify", ErrBadAnswer)
	}
	rIC, err := sm.Decrypt(k.Enc, eIC)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(rIC[:8], rndIC) || !bytes.Equal(rIC[8:16], rndIFD) {
		return nil, fmt.Errorf("%w: nonces do not match", ErrBadAnswer)
	}
	return session(kIFD, rIC[16:32], rndIC, rndIFD)
}

// Chip is the chip's side of Basic Access Control for one document.
type Chip struct {
	keys  Keys
	rnd   io.Reader
	rndIC []byte
}

// NewChip returns the chip side for the keys k; rnd supplies RND.IC and
// K.IC (crypto/rand.Reader when nil).
func NewChip(k Keys, rnd io.Reader) *Chip {
	if rnd == nil {
		rnd = rand.Reader
	}
	return &Chip{keys: k, rnd: rnd}
}

// Challenge answers GET CHALLENGE with a fresh RND.IC.
func (c *Chip) Challenge() ([]byte, error) {
	c.rndIC = make([]byte, 8)
	if _, err := io.ReadFull(c.rnd, c.rndIC); err != nil {
		c.rndIC = nil
		return nil, fmt.Errorf("bac: random: %w", err)
	}
	return append([]byte(nil), c.rndIC...), nil
}

// Authenticate answers EXTERNAL AUTHENTICATE: it checks the reader's
// cryptogram E_IFD || M_IFD against the last challenge and returns
// E_IC || M_IC and the session. A challenge is good for one attempt.
func (c *Chip) Authenticate(data []byte) ([]byte, *sm.Session, error) {
	rndIC := c.rndIC
	c.rndIC = nil
	if rndIC == nil {
		return nil, nil, fmt.Errorf("bac: no challenge outstanding")
	}
	if len(data) != 40 {
		return nil, nil, fmt.Errorf("bac: cryptogram of %d bytes", len(data))
	}
	eIFD, mIFD := data[:32], data[32:]
	if m, _ := sm.MAC(c.keys.MAC, eIFD); subtle.ConstantTimeCompare(m, mIFD) != 1 {
		return nil, nil, ErrAccessDenied
	}
	s, err := sm.Decrypt(c.keys.Enc, eIFD)
	if err != nil {
		return nil, nil, err
	}
	rndIFD, kIFD := s[:8], s[16:32]
	if !bytes.Equal(s[8:16], rndIC) {
		return nil, nil, ErrAccessDenied
	}
	kIC := make([]byte, 16)
	if _, err := io.ReadFull(c.rnd, kIC); err != nil {
		return nil, nil, fmt.Errorf("bac: random: %w", err)
	}
	r := append(append(append([]byte{}, rndIC...), rndIFD...), kIC...)
	eIC, err := sm.Encrypt(c.keys.Enc, r)
	if err != nil {
		return nil, nil, err
	}
	mIC, err := sm.MAC(c.keys.MAC, eIC)
	if err != nil {
		return nil, nil, err
	}
	sess, err := session(kIFD, kIC, rndIC, rndIFD)
	if err != nil {
		return nil, nil, err
	}
	return append(eIC, mIC...), sess, nil
}
