// Package ber reads and writes BER-TLV data objects: the subset of
// ISO/IEC 8825-1 BER that ISO/IEC 7816-4 (section 5.2) lays down for smart
// cards and EMV Book 3 Annex B for payment data. ICAO Doc 9303 Part 10 uses
// it for every file of the Logical Data Structure and for secure messaging
// (eid/icao and its subpackages), and EMVCo's consumer-presented QR codes
// carry it (checkout/paycode): one decoder serves both, so that a hostile
// chip and a hostile QR code meet the same limits.
//
// The package sits under internal/ because it is a building block of this
// module, not a contract offered to others, and because it imports nothing
// but the standard library: the card protocols can use it without
// depending on the application, and the payment codes without depending on
// the card protocols.
//
// Only the definite length forms are accepted (ISO/IEC 7816-4 and EMV
// forbid the indefinite form), tags are at most three bytes, lengths at
// most four bytes and 1 GiB, and Parse bounds the nesting of constructed
// objects, so that hostile input cannot make the reader allocate or loop.
// Every decoding error is a *SyntaxError that says at which byte, and
// wraps ErrTruncated, ErrBadTag, ErrBadLength or ErrTooDeep.
package ber

import (
	"errors"
	"fmt"
)

// Errors returned for malformed input, wrapped in a *SyntaxError.
var (
	ErrTruncated = errors.New("ber: truncated")
	ErrBadTag    = errors.New("ber: bad tag")
	ErrBadLength = errors.New("ber: bad length")
	ErrTooDeep   = errors.New("ber: constructed objects nested too deep")
)

// maxLength bounds a value's length, far above any file of a chip or any
// QR code, so that a claimed length never drives an allocation.
const maxLength = 1 << 30

// SyntaxError is an error in BER-TLV coding. Offset counts bytes from the
// start of what was decoded to the start of the faulty object.
type SyntaxError struct {
	Offset int
	Reason string
	// Err is ErrTruncated, ErrBadTag, ErrBadLength or ErrTooDeep.
	Err error
}

// Error says where and what is wrong.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("BER-TLV at byte %d: %s", e.Offset, e.Reason)
}

// Unwrap returns the kind of error, for errors.Is.
func (e *SyntaxError) Unwrap() error { return e.Err }

func syntax(kind error, format string, args ...any) *SyntaxError {
	return &SyntaxError{Reason: fmt.Sprintf(format, args...), Err: kind}
}

// at moves err, when it is a *SyntaxError, by off bytes.
func at(err error, off int) error {
	var se *SyntaxError
	if errors.As(err, &se) {
		se.Offset += off
	}
	return err
}

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

// TagString returns tag in upper-case hexadecimal, two digits a byte, as
// the standards write it: "5F20", "04".
func TagString(tag uint32) string {
	switch {
	case tag > 0xFFFF:
		return fmt.Sprintf("%06X", tag)
	case tag > 0xFF:
		return fmt.Sprintf("%04X", tag)
	}
	return fmt.Sprintf("%02X", tag)
}

// Header decodes the tag and length at the start of b without requiring the
// value to be present. It returns the tag, the header size and the value
// length. A reader uses it on the first bytes of a file to learn its size.
func Header(b []byte) (tag uint32, hdr, n int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, syntax(ErrTruncated, "no data object (truncated)")
	}
	if b[0] == 0x00 || b[0] == 0xFF {
		// ISO/IEC 7816-4 and EMV Book 3 use 00 and FF as padding
		// between records, never as a tag; a file or a QR code read
		// whole has no reason to carry them.
		return 0, 0, 0, syntax(ErrBadTag, "byte %#02x where a tag should start (padding or garbage)", b[0])
	}
	tag = uint32(b[0])
	i := 1
	if b[0]&0x1F == 0x1F {
		for {
			if i >= len(b) {
				return 0, 0, 0, syntax(ErrTruncated, "tag %X truncated", tag)
			}
			if i >= 3 {
				return 0, 0, 0, syntax(ErrBadTag, "tag %X... longer than 3 bytes", tag)
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, 0, 0, syntax(ErrTruncated, "tag %s has no length (truncated)", TagString(tag))
	}
	l := b[i]
	i++
	switch {
	case l < 0x80:
		n = int(l)
	case l == 0x80:
		return 0, 0, 0, syntax(ErrBadLength, "tag %s: indefinite length, which ISO/IEC 7816-4 and EMV do not allow", TagString(tag))
	case l <= 0x84:
		k := int(l & 0x7F)
		if i+k > len(b) {
			return 0, 0, 0, syntax(ErrTruncated, "tag %s: length field truncated", TagString(tag))
		}
		v := 0
		for _, c := range b[i : i+k] {
			v = v<<8 | int(c)
		}
		if v < 0 || v > maxLength {
			return 0, 0, 0, syntax(ErrBadLength, "tag %s: length %d over 1 GiB", TagString(tag), v)
		}
		n = v
		i += k
	default:
		return 0, 0, 0, syntax(ErrBadLength, "tag %s: length field of %d bytes", TagString(tag), int(l&0x7F))
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
		return Object{}, nil, syntax(ErrTruncated, "tag %s: length %d runs past the end, %d bytes left (truncated)", TagString(tag), n, len(b)-hdr)
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
		return Object{}, fmt.Errorf("ber: %d bytes after tag %s", len(rest), TagString(o.Tag))
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
			return nil, at(err, off)
		}
		off += len(b) - len(rest)
		out = append(out, o)
		b = rest
	}
	return out, nil
}

// Node is one object of the tree Parse decodes. Value aliases the input,
// also for a constructed object; Children is non-nil exactly when the
// object is constructed.
type Node struct {
	Tag      uint32
	Value    []byte
	Children []Node
}

// Parse decodes the sequence of objects that spans b, and the objects
// inside every constructed one, with at most maxDepth constructed objects
// one inside another. Errors give the offset from the start of b.
func Parse(b []byte, maxDepth int) ([]Node, error) {
	return ParseFunc(b, maxDepth, func(tag uint32, value []byte, children []Node) Node {
		return Node{Tag: tag, Value: value, Children: children}
	})
}

// ParseFunc is Parse building the caller's own tree type T with mk, so
// that a caller with its own node type (checkout/paycode's TLV) pays for
// one tree, not two. children is nil for a primitive object and non-nil,
// possibly empty, for a constructed one.
func ParseFunc[T any](b []byte, maxDepth int, mk func(tag uint32, value []byte, children []T) T) ([]T, error) {
	return parseFunc(b, 0, maxDepth, mk)
}

func parseFunc[T any](b []byte, depth, maxDepth int, mk func(uint32, []byte, []T) T) ([]T, error) {
	var out []T
	for off := 0; off < len(b); {
		o, rest, err := Next(b[off:])
		if err != nil {
			return nil, at(err, off)
		}
		var children []T
		if Constructed(o.Tag) {
			if depth >= maxDepth {
				return nil, &SyntaxError{Offset: off, Reason: fmt.Sprintf("tag %s: templates nested more than %d deep", TagString(o.Tag), maxDepth), Err: ErrTooDeep}
			}
			if children, err = parseFunc(o.Value, depth+1, maxDepth, mk); err != nil {
				// The value starts after the header.
				return nil, at(err, len(b)-len(rest)-len(o.Value))
			}
			if children == nil {
				children = []T{}
			}
		}
		out = append(out, mk(o.Tag, o.Value, children))
		off = len(b) - len(rest)
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
		return nil, fmt.Errorf("ber: tag %s, want %s", TagString(o.Tag), TagString(tag))
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
