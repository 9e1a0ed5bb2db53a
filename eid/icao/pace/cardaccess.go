package pace

import (
	"encoding/asn1"
	"fmt"

	"github.com/guichet/guichet/internal/ber"
)

// FileCardAccess is the file identifier of EF.CardAccess in the master
// file (Doc 9303 Part 10 3.11.1); its short identifier is 1C.
const FileCardAccess = 0x011C

// maxInfos bounds the SecurityInfos kept from EF.CardAccess: a chip has a
// handful, and a hostile one must not make the reader hold thousands.
const maxInfos = 64

// ParseCardAccess reads EF.CardAccess, a DER SET OF SecurityInfo (Doc 9303
// Part 11 9.2), and returns its PACEInfos in the chip's order. Other
// SecurityInfos (Chip Authentication, PACEDomainParameterInfo, unknown
// protocols) are skipped, as the standard asks of readers. Every
// SecurityInfo must still be well formed: a damaged file is an error, not
// a chip without PACE.
func ParseCardAccess(b []byte) ([]Info, error) {
	var set []asn1.RawValue
	rest, err := asn1.UnmarshalWithParams(b, &set, "set")
	if err != nil {
		return nil, fmt.Errorf("%w: EF.CardAccess: %w", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: EF.CardAccess: %d bytes after the SET", ErrMalformed, len(rest))
	}
	if len(set) > maxInfos {
		return nil, fmt.Errorf("%w: EF.CardAccess holds %d SecurityInfos", ErrMalformed, len(set))
	}
	var out []Info
	for n, e := range set {
		if e.Class != asn1.ClassUniversal || e.Tag != asn1.TagSequence || !e.IsCompound {
			return nil, fmt.Errorf("%w: EF.CardAccess SecurityInfo %d is not a SEQUENCE", ErrMalformed, n)
		}
		var oid asn1.ObjectIdentifier
		more, err := asn1.Unmarshal(e.Bytes, &oid)
		if err != nil {
			return nil, fmt.Errorf("%w: EF.CardAccess SecurityInfo %d: protocol: %w", ErrMalformed, n, err)
		}
		if len(oid) != len(idPACE)+2 || !oid[:len(idPACE)].Equal(idPACE) {
			// PACEDomainParameterInfo has one arc fewer; other
			// protocols are another's business.
			if len(more) == 0 {
				return nil, fmt.Errorf("%w: EF.CardAccess SecurityInfo %d (%s) has no required data", ErrMalformed, n, oid)
			}
			continue
		}
		info := Info{Protocol: oid, ParameterID: -1}
		if more, err = asn1.Unmarshal(more, &info.Version); err != nil {
			return nil, fmt.Errorf("%w: EF.CardAccess PACEInfo %d: version: %w", ErrMalformed, n, err)
		}
		if len(more) > 0 {
			if more, err = asn1.Unmarshal(more, &info.ParameterID); err != nil {
				return nil, fmt.Errorf("%w: EF.CardAccess PACEInfo %d: parameterId: %w", ErrMalformed, n, err)
			}
			if info.ParameterID < 0 {
				return nil, fmt.Errorf("%w: EF.CardAccess PACEInfo %d: parameterId %d", ErrMalformed, n, info.ParameterID)
			}
		}
		if len(more) > 0 {
			return nil, fmt.Errorf("%w: EF.CardAccess PACEInfo %d: %d bytes after parameterId", ErrMalformed, n, len(more))
		}
		out = append(out, info)
	}
	return out, nil
}

// EncodeCardAccess returns EF.CardAccess holding infos as PACEInfos, for
// the chip side.
func EncodeCardAccess(infos ...Info) ([]byte, error) {
	var body []byte
	for _, i := range infos {
		oid, err := asn1.Marshal(i.Protocol)
		if err != nil {
			return nil, fmt.Errorf("pace: protocol %v: %w", i.Protocol, err)
		}
		v, _ := asn1.Marshal(i.Version)
		seq := append(oid, v...)
		if i.ParameterID >= 0 {
			p, _ := asn1.Marshal(i.ParameterID)
			seq = append(seq, p...)
		}
		body = append(body, ber.Encode(0x30, seq)...)
	}
	return ber.Encode(0x31, body), nil
}

// oidContent is the content octets of oid's DER encoding, as MSE:Set AT's
// DO'80' and the token's DO'06' carry it.
func oidContent(oid asn1.ObjectIdentifier) []byte {
	der, err := asn1.Marshal(oid)
	if err != nil {
		// Only the package's own protocol identifiers reach here.
		panic(fmt.Sprintf("pace: protocol %v: %v", oid, err))
	}
	o, _ := ber.Decode(der)
	return o.Value
}

// dynamicAuth wraps objects in dynamic authentication data, DO'7C'.
func dynamicAuth(tag uint32, value []byte) []byte {
	if value == nil {
		return ber.Encode(0x7C)
	}
	return ber.Encode(0x7C, ber.Encode(tag, value))
}

// parseDynamicAuth checks that b is exactly one DO'7C' holding the data
// object tag, and returns that object's value. Objects with the tags in
// extra may follow it (the certificate authority references 87 and 88 of
// the last step) and are ignored; any other object is an error.
func parseDynamicAuth(b []byte, tag uint32, extra ...uint32) ([]byte, error) {
	v, err := ber.Expect(b, 0x7C)
	if err != nil {
		return nil, fmt.Errorf("%w: dynamic authentication data: %w", ErrMalformed, err)
	}
	objs, err := ber.DecodeAll(v)
	if err != nil {
		return nil, fmt.Errorf("%w: dynamic authentication data: %w", ErrMalformed, err)
	}
	var found []byte
	for _, o := range objs {
		switch {
		case o.Tag == tag && found == nil:
			found = o.Value
		case o.Tag == tag:
			return nil, fmt.Errorf("%w: dynamic authentication data: DO'%X' twice", ErrMalformed, tag)
		default:
			ok := false
			for _, x := range extra {
				ok = ok || o.Tag == x
			}
			if !ok {
				return nil, fmt.Errorf("%w: dynamic authentication data: DO'%X' where DO'%X' was expected", ErrMalformed, o.Tag, tag)
			}
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: dynamic authentication data without DO'%X'", ErrMalformed, tag)
	}
	return found, nil
}
