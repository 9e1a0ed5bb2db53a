// Package lds decodes and encodes the files of the Logical Data Structure
// of an eMRTD chip, ICAO Doc 9303 Part 10: EF.COM (section 4.6.1), DG1 (the
// MRZ, 4.7.1), DG2 (the encoded face, 4.7.2, with the facial record of
// ISO/IEC 19794-5) and the EF.SOD wrapper (4.6.2).
//
// Encoders exist for the virtual ePassport; readers use the decoders, which
// refuse malformed input with an error rather than guess.
package lds

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/guichet/guichet/eid/icao/mrz"
	"github.com/guichet/guichet/internal/ber"
)

// AID is the application identifier of the eMRTD application (Part 10 3.1.1).
var AID = []byte{0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01}

// File identifiers of the LDS (Part 10 section 3.11 and 4.6).
const (
	FileCOM uint16 = 0x011E
	FileSOD uint16 = 0x011D
)

// ErrMalformed is returned for a file whose structure is not the one Doc
// 9303 Part 10 lays down.
var ErrMalformed = errors.New("lds: malformed file")

// FileID returns the file identifier of data group n (1 to 16): 0101 to 0110.
func FileID(dg int) uint16 { return 0x0100 | uint16(dg) }

// dgTags are the tags that open each data group (Part 10 Table 34).
var dgTags = [17]byte{0, 0x61, 0x75, 0x63, 0x76, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x70}

// Tag returns the tag of data group n, or 0 for a number out of range.
func Tag(dg int) byte {
	if dg < 1 || dg > 16 {
		return 0
	}
	return dgTags[dg]
}

// DataGroup returns the number of the data group opened by tag, or 0.
func DataGroup(tag byte) int {
	for n, t := range dgTags {
		if n > 0 && t == tag {
			return n
		}
	}
	return 0
}

// COM is EF.COM: the LDS and Unicode versions and the data groups present.
type COM struct {
	LDSVersion     string // "0107" for LDS 1.7
	UnicodeVersion string // "040000"
	DataGroups     []int
}

func wrap(err error) error { return fmt.Errorf("%w: %w", ErrMalformed, err) }

// ParseCOM decodes EF.COM (tag 60).
func ParseCOM(b []byte) (*COM, error) {
	v, err := ber.Expect(b, 0x60)
	if err != nil {
		return nil, wrap(fmt.Errorf("EF.COM: %w", err))
	}
	objs, err := ber.DecodeAll(v)
	if err != nil {
		return nil, wrap(fmt.Errorf("EF.COM: %w", err))
	}
	c := &COM{}
	var list []byte
	for _, o := range objs {
		switch o.Tag {
		case 0x5F01:
			c.LDSVersion = string(o.Value)
		case 0x5F36:
			c.UnicodeVersion = string(o.Value)
		case 0x5C:
			list = o.Value
		}
	}
	if list == nil {
		return nil, wrap(errors.New("EF.COM has no tag list (5C)"))
	}
	for _, t := range list {
		n := DataGroup(t)
		if n == 0 {
			return nil, wrap(fmt.Errorf("EF.COM lists unknown tag %02X", t))
		}
		c.DataGroups = append(c.DataGroups, n)
	}
	return c, nil
}

// Has reports whether EF.COM lists data group n.
func (c *COM) Has(n int) bool {
	for _, d := range c.DataGroups {
		if d == n {
			return true
		}
	}
	return false
}

// EncodeCOM encodes EF.COM for LDS 1.7 and Unicode 4.0.0 listing dgs.
func EncodeCOM(dgs ...int) []byte {
	list := make([]byte, 0, len(dgs))
	for _, n := range dgs {
		list = append(list, Tag(n))
	}
	return ber.Encode(0x60,
		ber.Encode(0x5F01, []byte("0107")),
		ber.Encode(0x5F36, []byte("040000")),
		ber.Encode(0x5C, list))
}

// ParseDG1 decodes DG1 (tag 61, MRZ in 5F1F) and parses the MRZ, check
// digits included.
func ParseDG1(b []byte) (*mrz.Document, string, error) {
	v, err := ber.Expect(b, 0x61)
	if err != nil {
		return nil, "", wrap(fmt.Errorf("DG1: %w", err))
	}
	z, ok, err := ber.Find(v, 0x5F1F)
	if err != nil || !ok {
		return nil, "", wrap(fmt.Errorf("DG1 has no MRZ (5F1F): %v", err))
	}
	d, err := mrz.Parse(string(z))
	if err != nil {
		return nil, "", wrap(fmt.Errorf("DG1: %w", err))
	}
	return d, string(z), nil
}

// EncodeDG1 encodes the MRZ (lines concatenated, without line breaks) as DG1.
func EncodeDG1(mrzText string) []byte {
	return ber.Encode(0x61, ber.Encode(0x5F1F, []byte(mrzText)))
}

// ParseSOD removes the EF.SOD wrapper (tag 77) and returns the CMS
// SignedData inside.
func ParseSOD(b []byte) ([]byte, error) {
	v, err := ber.Expect(b, 0x77)
	if err != nil {
		return nil, wrap(fmt.Errorf("EF.SOD: %w", err))
	}
	return v, nil
}

// EncodeSOD wraps a CMS SignedData as EF.SOD.
func EncodeSOD(cms []byte) []byte { return ber.Encode(0x77, cms) }

// Image formats of a face image.
const (
	FormatJPEG = "jpeg"
	FormatJP2  = "jp2"
)

// Face is one face image from DG2 with what ISO/IEC 19794-5 says about it.
type Face struct {
	Format        string // FormatJPEG or FormatJP2
	Width, Height int
	Data          []byte
}

var (
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
	jp2Magic  = []byte{0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A}
	j2kMagic  = []byte{0xFF, 0x4F, 0xFF, 0x51}
)

// sniff names the format of image data by its signature, so that a chip
// cannot make the reader mislabel what it writes to disk.
func sniff(b []byte) string {
	switch {
	case bytes.HasPrefix(b, jpegMagic):
		return FormatJPEG
	case bytes.HasPrefix(b, jp2Magic), bytes.HasPrefix(b, j2kMagic):
		return FormatJP2
	}
	return ""
}

// ParseDG2 decodes DG2: the biometric information group template (7F61)
// of Part 10 4.7.2 holding one biometric information template (7F60) per
// face, each with a biometric data block (5F2E) in the format of ISO/IEC
// 19794-5:2005 (facial record header "FAC\0").
func ParseDG2(b []byte) ([]Face, error) {
	v, err := ber.Expect(b, 0x75)
	if err != nil {
		return nil, wrap(fmt.Errorf("DG2: %w", err))
	}
	group, err := ber.Expect(v, 0x7F61)
	if err != nil {
		return nil, wrap(fmt.Errorf("DG2 group template: %w", err))
	}
	objs, err := ber.DecodeAll(group)
	if err != nil {
		return nil, wrap(fmt.Errorf("DG2 group template: %w", err))
	}
	var faces []Face
	count, templates := -1, 0
	for _, o := range objs {
		switch o.Tag {
		case 0x02:
			if len(o.Value) != 1 {
				return nil, wrap(errors.New("DG2 instance count is not one byte"))
			}
			count = int(o.Value[0])
		case 0x7F60:
			templates++
			bdb, ok, err := ber.Find(o.Value, 0x5F2E)
			if err != nil {
				return nil, wrap(fmt.Errorf("DG2 template: %w", err))
			}
			if !ok {
				if _, enc, _ := ber.Find(o.Value, 0x7F2E); enc {
					return nil, wrap(errors.New("DG2 face is enciphered (7F2E), not supported"))
				}
				return nil, wrap(errors.New("DG2 template has no biometric data block (5F2E)"))
			}
			fs, err := parseFacialRecord(bdb)
			if err != nil {
				return nil, err
			}
			faces = append(faces, fs...)
		}
	}
	if count != templates {
		return nil, wrap(fmt.Errorf("DG2 announces %d instances, holds %d", count, templates))
	}
	if len(faces) == 0 {
		return nil, wrap(errors.New("DG2 holds no face"))
	}
	return faces, nil
}

// parseFacialRecord decodes an ISO/IEC 19794-5:2005 facial record: a 14
// byte header (format "FAC\0", version "010\0", record length, number of
// images), then per image a 20 byte facial information block, 8 bytes per
// feature point, a 12 byte image information block and the image data.
func parseFacialRecord(b []byte) ([]Face, error) {
	if len(b) < 14 || !bytes.Equal(b[:4], []byte("FAC\x00")) {
		return nil, wrap(errors.New("biometric data block is not an ISO/IEC 19794-5 facial record"))
	}
	recLen := binary.BigEndian.Uint32(b[8:12])
	if uint64(recLen) != uint64(len(b)) {
		return nil, wrap(fmt.Errorf("facial record announces %d bytes, block holds %d", recLen, len(b)))
	}
	n := int(binary.BigEndian.Uint16(b[12:14]))
	if n == 0 {
		return nil, wrap(errors.New("facial record holds no image"))
	}
	rest := b[14:]
	var faces []Face
	for i := 0; i < n; i++ {
		if len(rest) < 20 {
			return nil, wrap(fmt.Errorf("facial record image %d truncated", i))
		}
		blockLen := binary.BigEndian.Uint32(rest[0:4])
		points := int(binary.BigEndian.Uint16(rest[4:6]))
		fixed := 20 + 8*points + 12
		if uint64(blockLen) > uint64(len(rest)) || int(blockLen) < fixed {
			return nil, wrap(fmt.Errorf("facial record image %d: block of %d bytes in %d", i, blockLen, len(rest)))
		}
		block := rest[:blockLen]
		rest = rest[blockLen:]
		info := block[20+8*points : fixed]
		data := block[fixed:]
		f := Face{Width: int(binary.BigEndian.Uint16(info[2:4])), Height: int(binary.BigEndian.Uint16(info[4:6])), Data: data}
		declared := map[byte]string{0: FormatJPEG, 1: FormatJP2}[info[1]]
		f.Format = sniff(data)
		if f.Format == "" || declared != f.Format {
			return nil, wrap(fmt.Errorf("facial record image %d: data type %d does not hold a JPEG or JPEG 2000 image", i, info[1]))
		}
		faces = append(faces, f)
	}
	return faces, nil
}

// EncodeDG2 encodes one face image as DG2 with the ICAO biometric header
// (Part 10 4.7.2: format owner ISO/IEC JTC1 SC37, format type 0008) and an
// ISO/IEC 19794-5 full frontal facial record without feature points.
func EncodeDG2(f Face) ([]byte, error) {
	var dataType byte
	switch sniff(f.Data) {
	case FormatJPEG:
	case FormatJP2:
		dataType = 1
	default:
		return nil, errors.New("lds: face image is neither JPEG nor JPEG 2000")
	}
	block := make([]byte, 0, 32+len(f.Data))
	block = binary.BigEndian.AppendUint32(block, uint32(32+len(f.Data)))
	block = append(block,
		0, 0, // no feature points
		0,       // gender unspecified
		0,       // eye colour unspecified
		0,       // hair colour unspecified
		0, 0, 0, // property mask
		0, 0, // expression unspecified
		0, 0, 0, // pose angles
		0, 0, 0, // pose angle uncertainty
	)
	block = append(block, 1, dataType) // face image type full frontal, data type
	block = binary.BigEndian.AppendUint16(block, uint16(f.Width))
	block = binary.BigEndian.AppendUint16(block, uint16(f.Height))
	block = append(block, 1, 2, 0, 0, 0, 0) // 24-bit RGB, digital still camera, no device type, no quality
	block = append(block, f.Data...)
	rec := append([]byte("FAC\x00010\x00"), 0, 0, 0, 0, 0, 1)
	binary.BigEndian.PutUint32(rec[8:12], uint32(14+len(block)))
	rec = append(rec, block...)
	header := ber.Encode(0xA1,
		ber.Encode(0x80, []byte{0x01, 0x01}),
		ber.Encode(0x81, []byte{0x02}),
		ber.Encode(0x87, []byte{0x01, 0x01}),
		ber.Encode(0x88, []byte{0x00, 0x08}))
	return ber.Encode(0x75, ber.Encode(0x7F61,
		ber.Encode(0x02, []byte{1}),
		ber.Encode(0x7F60, header, ber.Encode(0x5F2E, rec)))), nil
}
