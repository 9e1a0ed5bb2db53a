package paycode

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/guichet/guichet/internal/ber"
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
func (t Tag) Constructed() bool { return ber.Constructed(uint32(t)) }

// String returns t in upper-case hexadecimal, as the EMV books write it.
func (t Tag) String() string { return ber.TagString(uint32(t)) }

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
// of the decoded payload. The decoder is the module's one (internal/ber),
// shared with the card protocols.
type BERError = ber.SyntaxError

// parseBER decodes the sequence of data objects in b.
func parseBER(b []byte) ([]TLV, error) {
	return ber.ParseFunc(b, maxDepth, func(tag uint32, value []byte, children []TLV) TLV {
		return TLV{Tag: Tag(tag), Value: value, Children: children}
	})
}
