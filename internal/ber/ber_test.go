package ber

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The EF.COM of ICAO Doc 9303 Part 11 Appendix D.4.
const efCOM = "60145F0104303130365F36063034303030305C026175"

func TestDecodeEFCOM(t *testing.T) {
	v, err := Expect(unhex(t, efCOM), 0x60)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeAll(v)
	if err != nil {
		t.Fatal(err)
	}
	want := []Object{{0x5F01, []byte("0106")}, {0x5F36, []byte("040000")}, {0x5C, []byte{0x61, 0x75}}}
	if len(objs) != len(want) {
		t.Fatalf("got %d objects, want %d", len(objs), len(want))
	}
	for i := range want {
		if objs[i].Tag != want[i].Tag || !bytes.Equal(objs[i].Value, want[i].Value) {
			t.Errorf("object %d = %X %X, want %X %X", i, objs[i].Tag, objs[i].Value, want[i].Tag, want[i].Value)
		}
	}
	if !Constructed(0x60) || Constructed(0x5F01) || !Constructed(0x7F61) {
		t.Error("Constructed is wrong")
	}
}

func TestRoundTripLengths(t *testing.T) {
	for _, n := range []int{0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000} {
		v := bytes.Repeat([]byte{0xAB}, n)
		for _, tag := range []uint32{0x04, 0x5F2E, 0x7F61} {
			enc := Encode(tag, v)
			got, err := Expect(enc, tag)
			if err != nil {
				t.Fatalf("n=%d tag=%X: %v", n, tag, err)
			}
			if !bytes.Equal(got, v) {
				t.Fatalf("n=%d tag=%X: value differs", n, tag)
			}
			gt, hdr, gn, err := Header(enc[:min(len(enc), 6)])
			if err != nil || gt != tag || gn != n || hdr+n != len(enc) {
				t.Fatalf("Header(n=%d tag=%X) = %X %d %d %v", n, tag, gt, hdr, gn, err)
			}
		}
	}
}

func TestHostile(t *testing.T) {
	junk := make([]byte, 10<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(r.Uint32())
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"tag only", []byte{0x60}, ErrTruncated},
		{"long tag truncated", []byte{0x5F}, ErrTruncated},
		{"tag of four bytes", []byte{0x5F, 0x81, 0x81, 0x01, 0x00}, ErrBadTag},
		{"padding byte", []byte{0x00, 0x00}, ErrBadTag},
		{"FF", []byte{0xFF, 0x01, 0x00}, ErrBadTag},
		{"indefinite", []byte{0x30, 0x80, 0x00, 0x00}, ErrBadLength},
		{"length of 5 bytes", []byte{0x04, 0x85, 1, 1, 1, 1, 1}, ErrBadLength},
		{"length bytes truncated", []byte{0x04, 0x82, 0x01}, ErrTruncated},
		{"value truncated", []byte{0x04, 0x05, 1, 2}, ErrTruncated},
		{"oversized length", []byte{0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0}, ErrBadLength},
		{"huge claimed, short data", []byte{0x04, 0x84, 0x10, 0x00, 0x00, 0x00, 0}, ErrTruncated},
		{"10 MB of junk", junk, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestExpectTrailing(t *testing.T) {
	if _, err := Expect([]byte{0x04, 0x01, 0xAA, 0x00}, 0x04); err == nil {
		t.Error("trailing byte accepted")
	}
	if _, err := Expect([]byte{0x04, 0x01, 0xAA}, 0x05); err == nil {
		t.Error("wrong tag accepted")
	}
	v, ok, err := Find(unhex(t, "5F0104303130365C026175"), 0x5C)
	if err != nil || !ok || !bytes.Equal(v, []byte{0x61, 0x75}) {
		t.Errorf("Find = %X %v %v", v, ok, err)
	}
}

func FuzzDecodeAll(f *testing.F) {
	f.Add(unhex(f, efCOM))
	f.Add([]byte{0x5F, 0x1F, 0x82, 0x00, 0x01, 0x41})
	f.Add([]byte{0x7F, 0x61, 0x84, 0x7F, 0xFF, 0xFF, 0xFF})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		objs, err := DecodeAll(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to the same number of bytes
		// once non-minimal lengths are normalised, and decode again.
		var re []byte
		for _, o := range objs {
			re = append(re, Encode(o.Tag, o.Value)...)
		}
		again, err := DecodeAll(re)
		if err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if len(again) != len(objs) {
			t.Fatalf("re-decoded %d objects, want %d", len(again), len(objs))
		}
		for i := range objs {
			if again[i].Tag != objs[i].Tag || !bytes.Equal(again[i].Value, objs[i].Value) {
				t.Fatalf("object %d differs", i)
			}
		}
	})
}

// TestParseHostile feeds Parse the malformed trees a hostile QR code or
// chip may send; each error must say its kind, the byte where the faulty
// object starts, and in words what is wrong. The cases are those the
// payment codes' decoder had before it was merged here.
func TestParseHostile(t *testing.T) {
	const pfi = "8505435056303161" // '85' CPV01, then a '61' to be completed
	tests := []struct {
		name   string
		in     string
		kind   error
		offset int
		says   string
	}{
		{"empty template", "", nil, 0, ""},
		{"truncated in length", "61", ErrTruncated, 0, "tag 61 has no length (truncated)"},
		{"truncated in long length", pfi + "8200", ErrTruncated, 7, "length field truncated"},
		{"truncated tag", "5F", ErrTruncated, 0, "tag 5F truncated"},
		{"tag over 3 bytes", pfi + "069F81810101 00", ErrBadTag, 9, "longer than 3 bytes"},
		{"length past end", pfi + "204F07A0000000555555", ErrTruncated, 7, "length 32 runs past the end, 9 bytes left"},
		{"inner length past end", pfi + "094F09A0000000555555", ErrTruncated, 9, "tag 4F: length 9 runs past the end, 7 bytes left"},
		{"huge length", pfi + "83FFFFFF00", ErrTruncated, 7, "length 16777215 runs past the end"},
		{"over 1 GiB", "0484FFFFFFFF00", ErrBadLength, 0, "over 1 GiB"},
		{"length field of 5 bytes", pfi + "85000000000100", ErrBadLength, 7, "length field of 5 bytes"},
		{"indefinite length", pfi + "804F07A00000005555550000", ErrBadLength, 7, "indefinite length"},
		{"garbage after", "5A021234000000", ErrBadTag, 4, "byte 0x00 where a tag should start"},
		{"FF padding", "FF5A021234", ErrBadTag, 0, "byte 0xff where a tag should start"},
		{"too deep", "610C630A63086306630463026300", ErrTooDeep, 8, "nested more than 4 deep"},
		{"deep but allowed", "6108630663046302 5A00", nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, strings.ReplaceAll(tt.in, " ", ""))
			_, err := Parse(in, 4)
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			var se *SyntaxError
			if !errors.As(err, &se) || !errors.Is(err, tt.kind) {
				t.Fatalf("Parse error %v, want a SyntaxError wrapping %v", err, tt.kind)
			}
			if se.Offset != tt.offset || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("Parse error %q at byte %d, want %q at byte %d", err, se.Offset, tt.says, tt.offset)
			}
		})
	}
}

func TestParseTree(t *testing.T) {
	nodes, err := Parse(unhex(t, "850543505630316110"+"4F07A0000000555555"+"6305"+"9F2602ABCD"+"62 00"[:2]+"00"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 3 || nodes[0].Children != nil || len(nodes[1].Children) != 2 || nodes[2].Children == nil || len(nodes[2].Children) != 0 {
		t.Fatalf("tree = %+v", nodes)
	}
	inner := nodes[1].Children[1]
	if inner.Tag != 0x63 || len(inner.Children) != 1 || inner.Children[0].Tag != 0x9F26 || !bytes.Equal(inner.Children[0].Value, []byte{0xAB, 0xCD}) {
		t.Fatalf("inner template = %+v", inner)
	}
}

// FuzzParse checks that Parse never panics, that what it accepts keeps
// within its input and the depth asked for, and that an error is always a
// SyntaxError pointing inside the input.
func FuzzParse(f *testing.F) {
	f.Add(unhex(f, efCOM))
	f.Add(unhex(f, "8505435056303161094F09A0000000555555"))
	f.Add(unhex(f, "610C630A63086306630463026300"))
	f.Add([]byte{0x61, 0x83, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		nodes, err := Parse(b, 4)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset >= max(len(b), 1) || se.Reason == "" {
				t.Fatalf("error %v (%T) is not a SyntaxError inside the input", err, err)
			}
			return
		}
		var walk func([]Node, int) int
		walk = func(ns []Node, depth int) int {
			total := 0
			for _, n := range ns {
				if depth > 4 || (n.Children != nil) != Constructed(n.Tag) {
					t.Fatalf("node %X at depth %d: children %v", n.Tag, depth, n.Children != nil)
				}
				total += len(n.Value)
				walk(n.Children, depth+1)
			}
			return total
		}
		if walk(nodes, 0) > len(b) {
			t.Fatal("values longer than the input")
		}
	})
}
