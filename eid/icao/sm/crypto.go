// Package sm implements the secure messaging of ICAO Doc 9303 Part 11
// section 9.8 with two-key triple DES, as established by Basic Access
// Control: the key derivation function (9.7.1), the retail MAC of ISO/IEC
// 9797-1 MAC algorithm 3 with padding method 2, and the protection of
// command and response APDUs with the data objects 87, 97, 99 and 8E and
// the send sequence counter.
//
// The reader (IFD) side protects commands and unprotects responses; the
// chip (IC) side, used by the virtual ePassport, does the reverse.
package sm

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
)

// Key derivation counters of Doc 9303 Part 11 section 9.7.1.
const (
	CounterEnc uint32 = 1
	CounterMAC uint32 = 2
)

// DeriveKey derives a two-key triple DES key from a key seed (Doc 9303
// Part 11 9.7.1.1): the first 16 bytes of SHA-1(seed || counter), with the
// DES parity bits adjusted to odd.
func DeriveKey(seed []byte, counter uint32) []byte {
	h := sha1.New()
	h.Write(seed)
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], counter)
	h.Write(c[:])
	k := h.Sum(nil)[:16]
	for i, b := range k {
		b &= 0xFE
		// Odd parity: the low bit makes the number of ones odd.
		ones := 0
		for x := b; x != 0; x &= x - 1 {
			ones++
		}
		if ones%2 == 0 {
			b |= 1
		}
		k[i] = b
	}
	return k
}

// Pad applies ISO/IEC 9797-1 padding method 2: one 80 byte, then zeros up
// to a multiple of 8.
func Pad(b []byte) []byte {
	out := make([]byte, len(b), len(b)+8)
	copy(out, b)
	out = append(out, 0x80)
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	return out
}

// ErrPadding is returned by Unpad for data without method 2 padding.
var ErrPadding = errors.New("sm: bad padding")

// Unpad removes ISO/IEC 9797-1 padding method 2.
func Unpad(b []byte) ([]byte, error) {
	if len(b) == 0 || len(b)%8 != 0 {
		return nil, fmt.Errorf("%w: %d bytes", ErrPadding, len(b))
	}
	for i := len(b) - 1; i >= 0 && i >= len(b)-8; i-- {
		switch b[i] {
		case 0x80:
			return b[:i:i], nil
		case 0x00:
		default:
			return nil, ErrPadding
		}
	}
	return nil, ErrPadding
}

func tdes(key []byte) (cipher.Block, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("sm: triple DES key of %d bytes, want 16", len(key))
	}
	k := make([]byte, 24)
	copy(k, key)
	copy(k[16:], key[:8])
	return des.NewTripleDESCipher(k)
}

// Encrypt encrypts b, a multiple of 8 bytes, with two-key triple DES in CBC
// mode and a zero IV (Doc 9303 Part 11 9.8.6.1).
func Encrypt(key, b []byte) ([]byte, error) {
	blk, err := tdes(key)
	if err != nil {
		return nil, err
	}
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("sm: %d bytes is not whole blocks", len(b))
	}
	out := make([]byte, len(b))
	cipher.NewCBCEncrypter(blk, make([]byte, 8)).CryptBlocks(out, b)
	return out, nil
}

// Decrypt reverses Encrypt.
func Decrypt(key, b []byte) ([]byte, error) {
	blk, err := tdes(key)
	if err != nil {
		return nil, err
	}
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("sm: %d bytes is not whole blocks", len(b))
	}
	out := make([]byte, len(b))
	cipher.NewCBCDecrypter(blk, make([]byte, 8)).CryptBlocks(out, b)
	return out, nil
}

// mac holds the two DES keys of the retail MAC.
type mac struct{ k1, k2 cipher.Block }

func newMAC(key []byte) (*mac, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("sm: MAC key of %d bytes, want 16", len(key))
	}
	k1, err := des.NewCipher(key[:8])
	if err != nil {
		return nil, err
	}
	k2, err := des.NewCipher(key[8:])
	if err != nil {
		return nil, err
	}
	return &mac{k1, k2}, nil
}

// sum computes ISO/IEC 9797-1 MAC algorithm 3 over Pad(msg): single DES CBC
// with K1, then the last block decrypted with K2 and encrypted with K1.
func (m *mac) sum(msg []byte) []byte {
	p := Pad(msg)
	h := make([]byte, 8)
	for i := 0; i < len(p); i += 8 {
		for j := 0; j < 8; j++ {
			h[j] ^= p[i+j]
		}
		m.k1.Encrypt(h, h)
	}
	m.k2.Decrypt(h, h)
	m.k1.Encrypt(h, h)
	return h
}

// MAC computes the 8-byte retail MAC (ISO/IEC 9797-1 MAC algorithm 3, DES,
// padding method 2) of msg under the 16-byte key.
func MAC(key, msg []byte) ([]byte, error) {
	m, err := newMAC(key)
	if err != nil {
		return nil, err
	}
	return m.sum(msg), nil
}
