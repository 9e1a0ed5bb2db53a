package sam

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/guichet/guichet/eid/idnumber"
)

func specimen() Text {
	return Text{
		Name:      "韩梅梅",
		Sex:       "2",
		Nation:    "01",
		Birth:     "19491231",
		Address:   "北京市朝阳区示例路1号",
		IDNumber:  "11010519491231002X",
		Issuer:    "北京市公安局朝阳分局",
		ValidFrom: "20200101",
		ValidTo:   "20400101",
	}
}

func TestTextRoundTrip(t *testing.T) {
	for _, tx := range []Text{
		specimen(),
		func() Text { t := specimen(); t.ValidTo = LongTerm; return t }(),
		func() Text { t := specimen(); t.Type = "J"; t.Nation = ""; return t }(),
		func() Text { // every field at its full width
			t := specimen()
			t.Name = strings.Repeat("名", 15)
			t.Address = strings.Repeat("址", 35)
			t.Issuer = strings.Repeat("局", 15)
			return t
		}(),
	} {
		b, err := tx.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != TextLen {
			t.Fatalf("%d bytes", len(b))
		}
		got, err := ParseText(b)
		if err != nil {
			t.Fatal(err)
		}
		if got != tx {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, tx)
		}
	}
}

// The layout, checked at the byte offsets the protocol documents: name at
// 0 (30 bytes), sex at 30, nation at 32, birth at 36, address at 52, ID
// number at 122, issuer at 158, valid from at 188, valid to at 204.
func TestTextOffsets(t *testing.T) {
	b, err := specimen().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	at := func(off, n int) string {
		var r []rune
		for i := 0; i < n; i++ {
			r = append(r, rune(binary.LittleEndian.Uint16(b[off+2*i:])))
		}
		return string(r)
	}
	for _, tc := range []struct {
		off, n int
		want   string
	}{
		{0, 3, "韩梅梅"}, {30, 1, "2"}, {32, 2, "01"}, {36, 8, "19491231"},
		{52, 2, "北京"}, {122, 18, "11010519491231002X"}, {158, 2, "北京"},
		{188, 8, "20200101"}, {204, 8, "20400101"}, {220, 18, strings.Repeat(" ", 18)},
	} {
		if got := at(tc.off, tc.n); got != tc.want {
			t.Errorf("offset %d: %q, want %q", tc.off, got, tc.want)
		}
	}
}

func TestMarshalRejects(t *testing.T) {
	for name, tx := range map[string]Text{
		"name too long":  func() Text { t := specimen(); t.Name = strings.Repeat("名", 16); return t }(),
		"outside UCS-2":  func() Text { t := specimen(); t.Name = "𠀀"; return t }(),
		"unknown type":   func() Text { t := specimen(); t.Type = "Z"; return t }(),
		"ID number long": func() Text { t := specimen(); t.IDNumber += "0"; return t }(),
	} {
		if _, err := tx.MarshalBinary(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseTextHostile(t *testing.T) {
	good, _ := specimen().MarshalBinary()
	put := func(i int, c uint16) []byte {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint16(b[2*i:], c)
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrText},
		{"short", good[:220], ErrText},
		{"odd", good[:255], ErrText},
		{"long", append(bytes.Clone(good), 0, 0), ErrText},
		{"10 MB", make([]byte, 10<<20), ErrText},
		{"control character", put(3, 0x07), ErrText},
		{"surrogate", put(0, 0xD800), ErrText},
		{"foreigner card", put(typeMarkAt, 'I'), ErrUnsupportedCard},
		{"unknown type mark", put(typeMarkAt, 0x4E00), ErrUnsupportedCard},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseText(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCard(t *testing.T) {
	c, err := specimen().Card()
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "韩梅梅" || c.Sex != "女" || c.Nation != "汉" ||
		c.BirthDate != "1949-12-31" || c.ExpiryDate != "2040-01-01" || c.IDNumber != "11010519491231002X" ||
		c.Address != "北京市朝阳区示例路1号" || c.Issuer != "北京市公安局朝阳分局" {
		t.Fatalf("card %+v", c)
	}
	lt := specimen()
	lt.ValidTo = LongTerm
	lt.IDNumber = "11010519491231002x"
	if c, err := lt.Card(); err != nil || c.ExpiryDate != LongTerm || c.IDNumber != "11010519491231002X" {
		t.Fatalf("long-term card: %+v, %v", c, err)
	}
	j := specimen()
	j.Type, j.Nation = "J", ""
	if c, err := j.Card(); err != nil || c.Nation != "" {
		t.Fatalf("residence permit: %+v, %v", c, err)
	}
}

func TestCardRejects(t *testing.T) {
	mod := func(f func(*Text)) Text { t := specimen(); f(&t); return t }
	for _, tc := range []struct {
		name string
		in   Text
		also error
	}{
		{"bad check character", mod(func(t *Text) { t.IDNumber = "110105194912310021" }), idnumber.ErrCheck},
		{"short ID number", mod(func(t *Text) { t.IDNumber = "1101051949" }), idnumber.ErrLength},
		{"birth disagrees", mod(func(t *Text) { t.Birth = "19491230" }), nil},
		{"birth not a date", mod(func(t *Text) { t.Birth = "1949123A" }), nil},
		{"sex disagrees", mod(func(t *Text) { t.Sex = "1" }), nil},
		{"sex code unknown", mod(func(t *Text) { t.Sex = "5" }), nil},
		{"nation unknown", mod(func(t *Text) { t.Nation = "77" }), nil},
		{"nation empty", mod(func(t *Text) { t.Nation = "" }), nil},
		{"valid-to garbage", mod(func(t *Text) { t.ValidTo = "2040" }), nil},
		{"valid-from garbage", mod(func(t *Text) { t.ValidFrom = "abcdefgh" }), nil},
		{"no name", mod(func(t *Text) { t.Name = "" }), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.in.Card()
			if !errors.Is(err, ErrCardData) {
				t.Fatalf("err = %v, want ErrCardData", err)
			}
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Fatalf("err = %v, want also %v", err, tc.also)
			}
			if strings.Contains(err.Error(), "韩") || strings.Contains(err.Error(), "110105") {
				t.Fatalf("error %q carries personal data", err)
			}
		})
	}
}

func TestSplitBaseAndParseReply(t *testing.T) {
	base := func(tl, pl, extra int) []byte {
		d := binary.BigEndian.AppendUint16(nil, uint16(tl))
		d = binary.BigEndian.AppendUint16(d, uint16(pl))
		return append(d, make([]byte, tl+pl+extra)...)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want error
	}{
		{"ok", append([]byte{0, 0, 0x90}, base(256, 1024, 0)...), nil},
		{"no photo", append([]byte{0, 0, 0x90}, base(256, 0, 0)...), nil},
		{"no status word", []byte{0, 0}, ErrMalformed},
		{"no lengths", []byte{0, 0, 0x90, 1}, ErrMalformed},
		{"data short", append([]byte{0, 0, 0x90}, base(256, 1024, -1)...), ErrMalformed},
		{"data long", append([]byte{0, 0, 0x90}, base(256, 1024, 1)...), ErrMalformed},
		{"read failed", []byte{0, 0, 0x41}, StatusReadFailed},
		{"unknown status", []byte{0x6A, 0x82, 0x77}, Status(0x77)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseReply(CmdReadBase, tc.body)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	for cmd, body := range map[Command][]byte{
		CmdFindCard:   {0, 0, 0x90},
		CmdStatus:     {0, 0, 0x9F, 0, 0, 0, 0},
		CmdSelectCard: {0, 0, 0x9F},
	} {
		if _, err := parseReply(cmd, body); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s answered % X: %v, want ErrMalformed", cmd, body, err)
		}
	}
	var se *StatusError
	_, err := parseReply(CmdFindCard, []byte{0, 0, 0x80})
	if !errors.As(err, &se) || se.Command != CmdFindCard || se.Status != StatusNoCard {
		t.Fatalf("err = %#v", err)
	}
	if want := "sam: find card: status 00 00 80: no card found"; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
}

// FuzzParseText: any 256 bytes either fail with ErrText or
// ErrUnsupportedCard, or parse into fields that marshal back to an
// equivalent block; Card never panics and accepts only valid ID numbers.
func FuzzParseText(f *testing.F) {
	good, _ := specimen().MarshalBinary()
	f.Add(good)
	f.Add(make([]byte, TextLen))
	f.Add(bytes.Repeat([]byte{0xFF}, TextLen))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, err := ParseText(b)
		if err != nil {
			if !errors.Is(err, ErrText) && !errors.Is(err, ErrUnsupportedCard) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := tx.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed text does not marshal: %v", err)
		}
		tx2, err := ParseText(again)
		if err != nil || tx2 != tx {
			t.Fatalf("round trip: %+v, %v", tx2, err)
		}
		if c, err := tx.Card(); err == nil {
			if idnumber.Validate(c.IDNumber) != nil {
				t.Fatalf("accepted invalid ID number")
			}
		} else if !errors.Is(err, ErrCardData) {
			t.Fatalf("Card: unexpected error %v", err)
		}
	})
}

// FuzzParseReply: replies of any shape give a reply or a typed error.
func FuzzParseReply(f *testing.F) {
	f.Add([]byte{0, 0, 0x90, 0, 1, 0, 1, 'a', 0, 'b'})
	f.Add([]byte{0, 0, 0x9F, 0, 0, 0, 0})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseReply(CmdReadBase, b)
		var se *StatusError
		switch {
		case err == nil:
			text, photo, err := splitBase(r.Data)
			if err != nil || len(text)+len(photo)+4 != len(r.Data) {
				t.Fatalf("accepted reply does not split: %v", err)
			}
		case errors.Is(err, ErrMalformed), errors.As(err, &se):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
