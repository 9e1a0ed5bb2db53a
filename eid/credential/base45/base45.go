// Package base45 implements the Base45 data encoding of RFC 9285.
//
// Base45 packs two bytes into three characters of the 45-character
// alphanumeric set of QR codes (ISO/IEC 18004, table 5), so that a binary
// payload is carried in the QR alphanumeric mode at 5.5 bits per character
// instead of the byte mode's 8 bits. It is the text encoding of the EU
// Digital COVID Certificate and of guichet's signed e-ID codes.
package base45

import (
	"errors"
	"fmt"
)

// alphabet is the encoding table of RFC 9285 section 4.2.
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// decodeMap maps a character to its value, or to 0xFF when it is not in
// the alphabet.
var decodeMap = func() [256]byte {
	var m [256]byte
	for i := range m {
		m[i] = 0xFF
	}
	for i := 0; i < len(alphabet); i++ {
		m[alphabet[i]] = byte(i)
	}
	return m
}()

// ErrLength reports an encoded text whose length leaves one lone
// character, which no byte sequence encodes to (RFC 9285 section 4.2).
var ErrLength = errors.New("base45: length is 1 modulo 3")

// CorruptInputError reports an invalid character, or a group of
// characters whose value is out of range (RFC 9285 section 6), at the given
// offset of the input.
type CorruptInputError struct {
	Offset int
	Reason string
}

// Error says where the input stopped being Base45.
func (e *CorruptInputError) Error() string {
	return fmt.Sprintf("base45: %s at offset %d", e.Reason, e.Offset)
}

// EncodedLen returns the length of the Base45 encoding of n bytes.
func EncodedLen(n int) int {
	return n/2*3 + n%2*2
}

// DecodedLen returns the largest number of bytes that n characters of
// Base45 decode to.
func DecodedLen(n int) int {
	return n/3*2 + n%3/2
}

// Encode returns the Base45 encoding of src (RFC 9285 section 4).
func Encode(src []byte) string {
	dst := make([]byte, 0, EncodedLen(len(src)))
	for len(src) >= 2 {
		// A pair of bytes a, b is the number n = a*256 + b, written as
		// c + d*45 + e*45*45 and emitted low digit first.
		n := uint(src[0])<<8 | uint(src[1])
		dst = append(dst, alphabet[n%45], alphabet[n/45%45], alphabet[n/(45*45)])
		src = src[2:]
	}
	if len(src) == 1 {
		n := uint(src[0])
		dst = append(dst, alphabet[n%45], alphabet[n/45])
	}
	return string(dst)
}

// Decode returns the bytes that the Base45 text src encodes. It refuses
// characters outside the alphabet (including lower case), a length of 1
// modulo 3, and groups whose value exceeds 65535 (three characters) or 255
// (a final pair), as RFC 9285 section 6 requires. Every text it accepts is
// the one Encode would produce, so a code has exactly one spelling.
func Decode(src string) ([]byte, error) {
	if len(src)%3 == 1 {
		return nil, ErrLength
	}
	dst := make([]byte, 0, DecodedLen(len(src)))
	for i := 0; i < len(src); i += 3 {
		var v [3]uint
		k := min(3, len(src)-i)
		for j := 0; j < k; j++ {
			d := decodeMap[src[i+j]]
			if d == 0xFF {
				return nil, &CorruptInputError{Offset: i + j, Reason: fmt.Sprintf("invalid character %q", src[i+j])}
			}
			v[j] = uint(d)
		}
		n := v[0] + v[1]*45 + v[2]*45*45
		if k == 3 {
			if n > 0xFFFF {
				return nil, &CorruptInputError{Offset: i, Reason: fmt.Sprintf("group value %d exceeds 65535", n)}
			}
			dst = append(dst, byte(n>>8), byte(n))
			continue
		}
		if n > 0xFF {
			return nil, &CorruptInputError{Offset: i, Reason: fmt.Sprintf("final pair value %d exceeds 255", n)}
		}
		dst = append(dst, byte(n))
	}
	return dst, nil
}
