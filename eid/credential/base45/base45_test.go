package base45

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// The examples of RFC 9285 sections 4.3 and 4.4.
var rfcVectors = []struct {
	plain, encoded string
}{
	{"AB", "BB8"},
	{"Hello!!", "%69 VD92EX0"},
	{"base-45", "UJCLQE7W581"},
	{"ietf!", "QED8WEX0"},
}

func TestRFCVectors(t *testing.T) {
	for _, v := range rfcVectors {
		if got := Encode([]byte(v.plain)); got != v.encoded {
			t.Errorf("Encode(%q) = %q, want %q", v.plain, got, v.encoded)
		}
		got, err := Decode(v.encoded)
		if err != nil {
			t.Errorf("Decode(%q): %v", v.encoded, err)
			continue
		}
		if string(got) != v.plain {
			t.Errorf("Decode(%q) = %q, want %q", v.encoded, got, v.plain)
		}
	}
}

func TestEdges(t *testing.T) {
	for _, in := range [][]byte{nil, {0}, {0xFF}, {0, 0}, {0xFF, 0xFF}, {0xFF, 0xFF, 0xFF}, bytes.Repeat([]byte{0xA5}, 1001)} {
		enc := Encode(in)
		if len(enc) != EncodedLen(len(in)) {
			t.Errorf("len(Encode(%x)) = %d, EncodedLen says %d", in, len(enc), EncodedLen(len(in)))
		}
		dec, err := Decode(enc)
		if err != nil || !bytes.Equal(dec, in) {
			t.Errorf("Decode(Encode(%x)) = %x, %v", in, dec, err)
		}
	}
	// 0xFFFF is the largest three-character group: "FGW" (RFC 9285 section 6).
	if got := Encode([]byte{0xFF, 0xFF}); got != "FGW" {
		t.Errorf("Encode(FFFF) = %q, want FGW", got)
	}
}

func TestHostile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // substring of the error
	}{
		{"lone character", "A", "length"},
		{"four characters", "BB8A", "length"},
		{"lower case", "bb8", "invalid character"},
		{"not in alphabet", "BB#", "invalid character"},
		{"NUL", "BB\x00", "invalid character"},
		{"non-ASCII", "B\xc3\xa9", "invalid character"},
		{"group over 65535", "GGW", "exceeds 65535"},
		{"max group", ":::", "exceeds 65535"},
		{"final pair over 255", "BB8:6", "exceeds 255"},
		{"truncated RFC vector", "QED8WEX", "length"},
		{"10 MB of junk", strings.Repeat("junk!!", 10<<20/6), "invalid character"},
		{"10 MB of over-range groups", strings.Repeat(":", 10<<20+2), "exceeds 65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if err == nil {
				t.Fatalf("Decode accepted %d characters, gave %d bytes", len(tt.in), len(got))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
	var ce *CorruptInputError
	if _, err := Decode("BB8BB#"); !errors.As(err, &ce) || ce.Offset != 5 {
		t.Errorf("Decode(BB8BB#) = %v, want CorruptInputError at offset 5", err)
	}
	if _, err := Decode("A"); !errors.Is(err, ErrLength) {
		t.Errorf("Decode(A) = %v, want ErrLength", err)
	}
}

func FuzzBase45(f *testing.F) {
	for _, v := range rfcVectors {
		f.Add([]byte(v.plain))
		f.Add([]byte(v.encoded))
	}
	f.Add([]byte("GGW"))
	f.Add([]byte{0xFF, 0xFF, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Bytes round-trip.
		enc := Encode(data)
		dec, err := Decode(enc)
		if err != nil || !bytes.Equal(dec, data) {
			t.Fatalf("round trip of %x: got %x, %v", data, dec, err)
		}
		// Text accepted by Decode has one spelling: the one Encode gives.
		if out, err := Decode(string(data)); err == nil {
			if again := Encode(out); again != string(data) {
				t.Fatalf("Decode(%q) = %x but Encode gives %q", data, out, again)
			}
		}
	})
}
