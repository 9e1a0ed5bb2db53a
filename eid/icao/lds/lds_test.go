package lds

import (
	"bytes"
	"encoding/hex"
	"errors"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"

	"github.com/guichet/guichet/internal/ber"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCOMWorkedExample(t *testing.T) {
	// EF.COM of ICAO Doc 9303 Part 11 Appendix D.4.
	c, err := ParseCOM(unhex(t, "60145F0104303130365F36063034303030305C026175"))
	if err != nil {
		t.Fatal(err)
	}
	if c.LDSVersion != "0106" || c.UnicodeVersion != "040000" || len(c.DataGroups) != 2 || !c.Has(1) || !c.Has(2) || c.Has(3) {
		t.Errorf("COM = %+v", c)
	}
	c2, err := ParseCOM(EncodeCOM(1, 2, 14))
	if err != nil || !c2.Has(14) || c2.LDSVersion != "0107" {
		t.Errorf("round trip = %+v %v", c2, err)
	}
}

const td3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"

func TestDG1(t *testing.T) {
	d, raw, err := ParseDG1(EncodeDG1(td3))
	if err != nil {
		t.Fatal(err)
	}
	if raw != td3 || d.DocumentNumber != "L898902C3" || d.Surname != "ERIKSSON" {
		t.Errorf("DG1 = %+v", d)
	}
}

func face(t testing.TB) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 24, 32)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDG2RoundTrip(t *testing.T) {
	img := face(t)
	dg2, err := EncodeDG2(Face{Width: 24, Height: 32, Data: img})
	if err != nil {
		t.Fatal(err)
	}
	faces, err := ParseDG2(dg2)
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) != 1 || faces[0].Format != FormatJPEG || faces[0].Width != 24 || faces[0].Height != 32 || !bytes.Equal(faces[0].Data, img) {
		t.Errorf("faces = %+v", faces)
	}
	jp2 := append(append([]byte{}, jp2Magic...), 1, 2, 3)
	dg2, _ = EncodeDG2(Face{Data: jp2})
	if faces, err := ParseDG2(dg2); err != nil || faces[0].Format != FormatJP2 {
		t.Errorf("JPEG 2000 face: %+v %v", faces, err)
	}
	if _, err := EncodeDG2(Face{Data: []byte("GIF89a")}); err == nil {
		t.Error("encoded a GIF")
	}
}

func TestHostile(t *testing.T) {
	img := face(t)
	good, _ := EncodeDG2(Face{Data: img})
	junk := make([]byte, 10<<20)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range junk {
		junk[i] = byte(r.Uint32())
	}
	// A DG2 whose facial record says JPEG but holds something else.
	lying := bytes.Replace(good, img[:3], []byte("GIF"), 1)
	// A facial record length that disagrees with the block.
	rec := bytes.Index(good, []byte("FAC\x00"))
	badLen := append([]byte{}, good...)
	badLen[rec+11]++
	for name, in := range map[string][]byte{
		"empty":             nil,
		"truncated":         good[:len(good)/2],
		"junk":              junk,
		"wrong outer tag":   append([]byte{0x76}, good[1:]...),
		"lying image type":  lying,
		"bad record length": badLen,
		"no template":       ber.Encode(0x75, ber.Encode(0x7F61, ber.Encode(0x02, []byte{1}))),
		"count mismatch":    ber.Encode(0x75, ber.Encode(0x7F61, ber.Encode(0x02, []byte{2}), ber.Encode(0x7F60, ber.Encode(0x5F2E, []byte("FAC\x00"))))),
		"enciphered":        ber.Encode(0x75, ber.Encode(0x7F61, ber.Encode(0x02, []byte{1}), ber.Encode(0x7F60, ber.Encode(0x7F2E, []byte{1})))),
		"huge point count":  ber.Encode(0x75, ber.Encode(0x7F61, ber.Encode(0x02, []byte{1}), ber.Encode(0x7F60, ber.Encode(0x5F2E, append([]byte("FAC\x00010\x00\x00\x00\x00\x22\x00\x01"), 0, 0, 0, 20, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))))),
	} {
		if _, err := ParseDG2(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("DG2 %s: %v", name, err)
		}
		if _, err := ParseCOM(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("COM %s: %v", name, err)
		}
		if _, _, err := ParseDG1(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("DG1 %s: %v", name, err)
		}
	}
	if _, err := ParseCOM(unhex(t, "60045C027199")); !errors.Is(err, ErrMalformed) {
		t.Error("COM with unknown tags accepted")
	}
	if _, _, err := ParseDG1(EncodeDG1(td3[:87] + "1")); !errors.Is(err, ErrMalformed) {
		t.Error("DG1 with a wrong check digit accepted")
	}
	if _, err := ParseSOD([]byte{0x77, 0x05, 1}); !errors.Is(err, ErrMalformed) {
		t.Error("truncated SOD accepted")
	}
	if FileID(2) != 0x0102 || Tag(2) != 0x75 || DataGroup(0x6E) != 14 || Tag(17) != 0 || DataGroup(0x99) != 0 {
		t.Error("file or tag mapping wrong")
	}
}

func FuzzParseDG2(f *testing.F) {
	good, _ := EncodeDG2(Face{Data: face(f)})
	f.Add(good)
	f.Add(EncodeCOM(1, 2))
	f.Add(EncodeDG1(td3))
	f.Fuzz(func(t *testing.T, b []byte) {
		if faces, err := ParseDG2(b); err == nil {
			for _, fc := range faces {
				if fc.Format != FormatJPEG && fc.Format != FormatJP2 {
					t.Fatalf("format %q", fc.Format)
				}
			}
		}
		ParseCOM(b)
		ParseDG1(b)
	})
}
