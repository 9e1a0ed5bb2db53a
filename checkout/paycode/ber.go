package paycode

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// TLV is one BER-TLV data object, coded as EMV Book 3 Annex B specifies
// (a subset of ISO/IEC 8825-1 BER): a tag of one to three bytes, a length
// in short or definite long form, and a value. A constructed object (bit 6
// of the tag's first byte set) holds further objects in Children.
type TLV struct {
	Tag      Tag
	Value    []byte // the raw value, also for a constructed object
	Children []TLV  // the objects inside a constructed one
}

// Tag is a BER tag with its bytes in big-endian order: 0x5F20 for the
// cardholder name.
type Tag uint32

// Constructed reports whether t is a template holding other objects.
func (t Tag) Constructed() bool {
	first := t
	for first > 0xFF {
		first >>= 8
	}
	return first&0x20 != 0
}

// String returns t in upper-case hexadecimal, as the EMV books write it.
func (t Tag) String() string {
	switch {
	case t > 0xFFFF:
		return fmt.Sprintf("%06X", uint32(t))
	case t > 0xFF:
		return fmt.Sprintf("%04X", uint32(t))
	}
	return fmt.Sprintf("%02X", uint32(t))
}

// tlvJSON is the JSON form of a TLV.
type tlvJSON struct {
	Tag      string `json:"tag"`
	Value    string `json:"value,omitempty"`
	Children []TLV  `json:"children,omitempty"`
}

// MarshalJSON writes a TLV as {"tag":"9F26","value":"584F..."}, with
// children instead of the value for a constructed object.
func (d TLV) MarshalJSON() ([]byte, error) {
	o := tlvJSON{Tag: d.Tag.String(), Children: d.Children}
	if d.Children == nil {
		o.Value = strings.ToUpper(hex.EncodeToString(d.Value))
	}
	return json.Marshal(o)
}

// UnmarshalJSON reads what MarshalJSON writes. The value of a constructed
// object is not restored from its children.
func (d *TLV) UnmarshalJSON(b []byte) error {
	var o tlvJSON
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	t, err := hex.DecodeString(o.Tag)
	if err != nil || len(t) == 0 || len(t) > 3 {
		return fmt.Errorf("paycode: tag %q is not 1-3 bytes of hexadecimal", o.Tag)
	}
	v, err := hex.DecodeString(o.Value)
	if err != nil {
		return fmt.Errorf("paycode: value of tag %s: %w", o.Tag, err)
	}
	var tag Tag
	for _, c := range t {
		tag = tag<<8 | Tag(c)
	}
	*d = TLV{Tag: tag, Value: v, Children: o.Children}
	return nil
}

// maxDepth bounds the nesting of templates. Consumer-presented payloads
// nest two deep ('61' holding '63'); the margin keeps hostile input from
// costing more than a few frames.
const maxDepth = 4

// BERError is an error in BER-TLV coding. Offset counts bytes from the start
// of the decoded payload.
type BERError struct {
	Offset int
	Reason string
}

// Error says what is wrong.
func (e *BERError) Error() string {
	return fmt.Sprintf("BER-TLV at byte %d: %s", e.Offset, e.Reason)
}

// parseBER decodes the sequence of data objects in b, which starts at byte
// base of the whole payload.
func parseBER(b []byte, base, depth int) ([]TLV, error) {
	var out []TLV
	for i := 0; i < len(b); {
		start := i
		at := func(format string, args ...any) error {
			return &BERError{Offset: base + start, Reason: fmt.Sprintf(format, args...)}
		}
		first := b[i]
		if first == 0x00 || first == 0xFF {
			// EMV Book 3 Annex B tolerates these as padding between
			// records on a card; a QR code has no reason to carry them.
			return nil, at("byte %#02x where a tag should start (padding or garbage)", first)
		}
		tag := Tag(first)
		i++
		if first&0x1F == 0x1F {
			for {
				if i >= len(b) {
					return nil, at("tag %X truncated", uint32(tag))
				}
				if i-start == 3 {
					return nil, at("tag %X... longer than 3 bytes", uint32(tag))
				}
				c := b[i]
				tag = tag<<8 | Tag(c)
				i++
				if c&0x80 == 0 {
					break
				}
			}
		}
		if i >= len(b) {
			return nil, at("tag %s has no length (truncated)", tag)
		}
		n := int(b[i])
		i++
		if n == 0x80 {
			return nil, at("tag %s: indefinite length, which EMV does not allow", tag)
		}
		if n > 0x80 {
			k := n & 0x7F
			if k > 3 {
				return nil, at("tag %s: length field of %d bytes", tag, k)
			}
			if i+k > len(b) {
				return nil, at("tag %s: length field truncated", tag)
			}
			n = 0
			for _, c := range b[i : i+k] {
				n = n<<8 | int(c)
			}
			i += k
		}
		if n > len(b)-i {
			return nil, at("tag %s: length %d runs past the end, %d bytes left", tag, n, len(b)-i)
		}
		d := TLV{Tag: tag, Value: b[i : i+n]}
		if tag.Constructed() {
			if depth >= maxDepth {
				return nil, at("tag %s: templates nested more than %d deep", tag, maxDepth)
			}
			children, err := parseBER(d.Value, base+i, depth+1)
			if err != nil {
				return nil, err
			}
			if children == nil {
				children = []TLV{}
			}
			d.Children = children
		}
		out = append(out, d)
		i += n
	}
	return out, nil
}
