// Package tlv reads and writes the BER-TLV data objects of ISO/IEC 7816-4
// (section 5.2) that ICAO Doc 9303 Part 10 uses for every file of the
// Logical Data Structure and for secure messaging.
//
// Only the definite length forms are accepted (ISO/IEC 7816-4 forbids the
// indefinite form), tags are at most three bytes and lengths at most four
// bytes, so that a hostile chip cannot make the reader allocate or loop.
package ber

import (
	"errors"
	"fmt"
)

// Errors returned for malformed input; they are wrapped with the offset.
var (
	ErrTruncated = errors.New("tlv: truncated")
	ErrBadTag    = errors.New("tlv: bad tag")
	ErrBadLength = errors.New("tlv: bad length")
)

// Object is one decoded data object. Value aliases the decoded input.
type Object struct {
	Tag   uint32
	Value []byte
}

// Constructed reports whether the tag marks a constructed object, whose
// value is itself a sequence of objects (bit 6 of the first tag byte).
func Constructed(tag uint32) bool {
	for tag > 0xFF {
		tag >>= 8
	}
	return tag&0x20 != 0
}

// Header decodes the tag and length at the start of b without requiring the
// value to be present. It returns the tag, the header size and the value
// length. A reader uses it on the first bytes of a file to learn its size.
func Header(b []byte) (tag uint32, hdr, n int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, ErrTruncated
	}
	if b[0] == 0x00 || b[0] == 0xFF {
		// ISO/IEC 7816-4 uses 00 and FF as padding, never as a tag.
		return 0, 0, 0, fmt.Errorf("%w: first byte %02X", ErrBadTag, b[0])
	}
	tag = uint32(b[0])
	i := 1
	if b[0]&0x1F == 0x1F {
		for {
			if i >= len(b) {
				return 0, 0, 0, ErrTruncated
			}
			if i >= 3 {
				return 0, 0, 0, fmt.Errorf("%w: longer than 3 bytes", ErrBadTag)
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, 0, 0, ErrTruncated
	}
	l := b[i]
	i++
	switch {
	case l < 0x80:
		n = int(l)
	case l == 0x80:
		return 0, 0, 0, fmt.Errorf("%w: indefinite form", ErrBadLength)
	case l <= 0x84:
		k := int(l & 0x7F)
		if i+k > len(b) {
			return 0, 0, 0, ErrTruncated
		}
		v := 0
		for _, c := range b[i : i+k] {
			v = v<<8 | int(c)
		}
		if v < 0 || v > 1<<30 {
			return 0, 0, 0, fmt.Errorf("%w: %d", ErrBadLength, v)
		}
		n = v
		i += k
	default:
		return 0, 0, 0, fmt.Errorf("%w: length byte %02X", ErrBadLength, l)
	}
	return tag, i, n, nil
}

// Next decodes the first object of b and returns it with the bytes after it.
func Next(b []byte) (Object, []byte, error) {
	tag, hdr, n, err := Header(b)
	if err != nil {
		return Object{}, nil, err
	}
	if n > len(b)-hdr {
		return Object{}, nil, fmt.Errorf("%w: tag %X wants %d bytes, %d left", ErrTruncated, tag, n, len(b)-hdr)
	}
	return Object{Tag: tag, Value: b[hdr : hdr+n : hdr+n]}, b[hdr+n:], nil
}

// Decode decodes exactly one object that spans all of b.
func Decode(b []byte) (Object, error) {
	o, rest, err := Next(b)
	if err != nil {
		return Object{}, err
	}
	if len(rest) != 0 {
		return Object{}, fmt.Errorf("tlv: %d bytes after tag %X", len(rest), o.Tag)
	}
	return o, nil
}

// DecodeAll decodes the sequence of objects that spans all of b.
func DecodeAll(b []byte) ([]Object, error) {
	var out []Object
	off := 0
	for len(b) > 0 {
		o, rest, err := Next(b)
		if err != nil {
			return nil, fmt.Errorf("at offset %d: %w", off, err)
		}
		off += len(b) - len(rest)
		out = append(out, o)
		b = rest
	}
	return out, nil
}

// Expect decodes exactly one object spanning b and checks its tag.
func Expect(b []byte, tag uint32) ([]byte, error) {
	o, err := Decode(b)
	if err != nil {
		return nil, err
	}
	if o.Tag != tag {
		return nil, fmt.Errorf("tlv: tag %X, want %X", o.Tag, tag)
	}
	return o.Value, nil
}

// Find returns the value of the first object tagged tag among the objects
// that span b (not descending into constructed ones).
func Find(b []byte, tag uint32) ([]byte, bool, error) {
	objs, err := DecodeAll(b)
	if err != nil {
		return nil, false, err
	}
	for _, o := range objs {
		if o.Tag == tag {
			return o.Value, true, nil
		}
	}
	return nil, false, nil
}

// AppendTag appends the encoding of tag to dst.
func AppendTag(dst []byte, tag uint32) []byte {
	switch {
	case tag > 0xFFFF:
		return append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		return append(dst, byte(tag>>8), byte(tag))
	default:
		return append(dst, byte(tag))
	}
}

// AppendLength appends the definite-form encoding of n to dst.
func AppendLength(dst []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n <= 0xFF:
		return append(dst, 0x81, byte(n))
	case n <= 0xFFFF:
		return append(dst, 0x82, byte(n>>8), byte(n))
	case n <= 0xFFFFFF:
		return append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// Encode returns the object tag with value.
func Encode(tag uint32, value ...[]byte) []byte {
	n := 0
	for _, v := range value {
		n += len(v)
	}
	out := AppendLength(AppendTag(make([]byte, 0, n+8), tag), n)
	for _, v := range value {
		out = append(out, v...)
	}
	return out
}
