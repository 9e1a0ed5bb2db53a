// Package sm implements the secure messaging of ICAO Doc 9303 Part 11
// section 9.8: with two-key triple DES, as Basic Access Control
// establishes it, and with AES, as PACE does. It holds the key derivation
// function (9.7.1), the retail MAC of ISO/IEC 9797-1 MAC algorithm 3 and
// AES-CMAC (NIST SP 800-38B), both over padding method 2, and the
// protection of command and response APDUs with the data objects 87, 97,
// 99 and 8E and the send sequence counter (for AES also the IV,
// E(KS_enc, SSC), of 9.8.6.2).
//
// The reader (IFD) side protects commands and unprotects responses; the
// chip (IC) side, used by the virtual ePassport, does the reverse.
package sm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// Key derivation counters of Doc 9303 Part 11 section 9.7.1: 1 and 2 give
// the encryption and MAC keys, 3 the PACE key K_pi from the password.
const (
	CounterEnc  uint32 = 1
	CounterMAC  uint32 = 2
	CounterPACE uint32 = 3
)

// KDF derives an AES key of keyLen bytes (16, 24 or 32) from the shared
// secret or password seed (Doc 9303 Part 11 9.7.1): SHA-1(seed || counter)
// cut to 16 bytes for AES-128, SHA-256(seed || counter) cut to the key
// length for AES-192 and AES-256.
func KDF(seed []byte, counter uint32, keyLen int) ([]byte, error) {
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], counter)
	switch keyLen {
	case 16:
		h := sha1.Sum(append(append([]byte(nil), seed...), c[:]...))
		return h[:16], nil
	case 24, 32:
		h := sha256.Sum256(append(append([]byte(nil), seed...), c[:]...))
		return h[:keyLen], nil
	}
	return nil, fmt.Errorf("sm: AES key of %d bytes, want 16, 24 or 32", keyLen)
}

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
func Pad(b []byte) []byte { return padTo(b, 8) }

// padTo pads to a multiple of the cipher's block size bs: 8 for triple
// DES, 16 for AES (Doc 9303 Part 11 9.8.6).
func padTo(b []byte, bs int) []byte {
	out := make([]byte, len(b), len(b)+bs)
	copy(out, b)
	out = append(out, 0x80)
	for len(out)%bs != 0 {
		out = append(out, 0)
	}
	return out
}

// ErrPadding is returned by Unpad for data without method 2 padding.
var ErrPadding = errors.New("sm: bad padding")

// Unpad removes ISO/IEC 9797-1 padding method 2.
func Unpad(b []byte) ([]byte, error) { return unpadFrom(b, 8) }

// unpadFrom removes padding method 2 applied for block size bs; the
// padding lies within the last block.
func unpadFrom(b []byte, bs int) ([]byte, error) {
	if len(b) == 0 || len(b)%bs != 0 {
		return nil, fmt.Errorf("%w: %d bytes", ErrPadding, len(b))
	}
	for i := len(b) - 1; i >= 0 && i >= len(b)-bs; i-- {
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

// cmac holds an AES key and its CMAC subkeys K1 and K2 (NIST SP 800-38B
// 6.1).
type cmac struct {
	b      cipher.Block
	k1, k2 [aes.BlockSize]byte
}

func newCMAC(key []byte) (*cmac, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sm: CMAC key: %w", err)
	}
	m := &cmac{b: b}
	var l [aes.BlockSize]byte
	b.Encrypt(l[:], l[:])
	double := func(dst, src *[aes.BlockSize]byte) {
		msb := src[0] >> 7
		for i := 0; i < aes.BlockSize-1; i++ {
			dst[i] = src[i]<<1 | src[i+1]>>7
		}
		// R_128 = 0x87 is folded in when the bit shifted out was set.
		dst[aes.BlockSize-1] = src[aes.BlockSize-1]<<1 ^ byte(subtle.ConstantTimeSelect(int(msb), 0x87, 0))
	}
	double(&m.k1, &l)
	double(&m.k2, &m.k1)
	return m, nil
}

// sum returns the full 16-byte CMAC of msg.
func (m *cmac) sum(msg []byte) []byte {
	var x [aes.BlockSize]byte
	n := (len(msg) + aes.BlockSize - 1) / aes.BlockSize
	if n == 0 {
		n = 1
	}
	for i := 0; i < n-1; i++ {
		subtle.XORBytes(x[:], x[:], msg[i*aes.BlockSize:(i+1)*aes.BlockSize])
		m.b.Encrypt(x[:], x[:])
	}
	last := msg[(n-1)*aes.BlockSize:]
	var blk [aes.BlockSize]byte
	if len(last) == aes.BlockSize {
		subtle.XORBytes(blk[:], last, m.k1[:])
	} else {
		copy(blk[:], last)
		blk[len(last)] = 0x80
		subtle.XORBytes(blk[:], blk[:], m.k2[:])
	}
	subtle.XORBytes(x[:], x[:], blk[:])
	m.b.Encrypt(x[:], x[:])
	return x[:]
}

// CMAC computes the 16-byte AES-CMAC (NIST SP 800-38B, RFC 4493) of msg
// under key (16, 24 or 32 bytes). Doc 9303 keeps its first 8 bytes, for
// secure messaging as for the PACE authentication tokens.
func CMAC(key, msg []byte) ([]byte, error) {
	m, err := newCMAC(key)
	if err != nil {
		return nil, err
	}
	return m.sum(msg), nil
}
