package sm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/guichet/guichet/eid/icao/apdu"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Values of ICAO Doc 9303 Part 11 Appendix D.2 to D.4.
const (
	kSeed = "239AB9CB282DAF66231DC5A4DF6BFBAE"
	kEnc  = "AB94FDECF2674FDFB9B391F85D7F76F2"
	kMAC  = "7962D9ECE03D1ACD4C76089DCE131543"
	sSeed = "0036D272F5C350ACAC50C3F572D23600"
	ksEnc = "979EC13B1CBFE9DCD01AB0FED307EAE5"
	ksMAC = "F1CB1F1FB5ADF208806B89DC579DC1F8"
	ssc0  = "887022120C06C226"
	sIFD  = "781723860C06C2264608F919887022120B795240CB7049B01C19B33E32804F0B"
	eIFD  = "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2"
	mIFD  = "5F1448EEA8AD90A7"
	eIC   = "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F"
	mIC   = "2F2D235D074D7449"
	rIC   = "4608F91988702212781723860C06C2260B4F80323EB3191CB04970CB4052790B"
)

func TestDeriveKeyWorkedExample(t *testing.T) {
	for _, tt := range []struct {
		seed    string
		counter uint32
		want    string
	}{{kSeed, CounterEnc, kEnc}, {kSeed, CounterMAC, kMAC}, {sSeed, CounterEnc, ksEnc}, {sSeed, CounterMAC, ksMAC}} {
		if got := DeriveKey(unhex(t, tt.seed), tt.counter); !bytes.Equal(got, unhex(t, tt.want)) {
			t.Errorf("DeriveKey(%s, %d) = %X, want %s", tt.seed, tt.counter, got, tt.want)
		}
	}
}

func TestCryptogramsWorkedExample(t *testing.T) {
	e, err := Encrypt(unhex(t, kEnc), unhex(t, sIFD))
	if err != nil || !bytes.Equal(e, unhex(t, eIFD)) {
		t.Fatalf("E_IFD = %X %v", e, err)
	}
	m, err := MAC(unhex(t, kMAC), e)
	if err != nil || !bytes.Equal(m, unhex(t, mIFD)) {
		t.Fatalf("M_IFD = %X %v", m, err)
	}
	m, _ = MAC(unhex(t, kMAC), unhex(t, eIC))
	if !bytes.Equal(m, unhex(t, mIC)) {
		t.Fatalf("M_IC = %X", m)
	}
	r, err := Decrypt(unhex(t, kEnc), unhex(t, eIC))
	if err != nil || !bytes.Equal(r, unhex(t, rIC)) {
		t.Fatalf("R = %X %v", r, err)
	}
}

func TestPad(t *testing.T) {
	for n := 0; n < 20; n++ {
		b := bytes.Repeat([]byte{0x80}, n)
		p := Pad(b)
		if len(p)%8 != 0 || len(p) <= n || len(p) > n+8 {
			t.Fatalf("Pad(%d bytes) = %d bytes", n, len(p))
		}
		u, err := Unpad(p)
		if err != nil || !bytes.Equal(u, b) {
			t.Fatalf("Unpad(Pad(%d bytes)) = %X %v", n, u, err)
		}
	}
	for _, bad := range []string{"", "00", "0000000000000000", "0102030405060708", "8000000000000001", "0080000000000000000000000000000000"} {
		if _, err := Unpad(unhex(t, bad)); !errors.Is(err, ErrPadding) {
			t.Errorf("Unpad(%s) = %v", bad, err)
		}
	}
}

func session(t testing.TB) *Session {
	s, err := NewSession(unhex(t, ksEnc), unhex(t, ksMAC), unhex(t, ssc0))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The protected exchanges of Doc 9303 Part 11 Appendix D.4: SELECT EF.COM,
// READ BINARY of 4 bytes, READ BINARY of the remaining 18.
var exchanges = []struct {
	plain    apdu.Command
	prot     string
	resp     string
	respData string
}{
	{apdu.Command{INS: 0xA4, P1: 0x02, P2: 0x0C, Data: []byte{0x01, 0x1E}}, "0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800", "990290008E08FA855A5D4C50A8ED9000", ""},
	{apdu.Command{INS: 0xB0, Ne: 4}, "0CB000000D9701048E08ED6705417E96BA5500", "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000", "60145F01"},
	{apdu.Command{INS: 0xB0, P2: 4, Ne: 0x12}, "0CB000040D9701128E082EA28A70F3C7B53500", "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000", "04303130365F36063034303030305C026175"},
}

func TestReaderSideWorkedExample(t *testing.T) {
	s := session(t)
	for i, x := range exchanges {
		p, err := s.Protect(x.plain)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p, unhex(t, x.prot)) {
			t.Fatalf("exchange %d: protected %X, want %s", i, p, x.prot)
		}
		r, err := s.Unprotect(unhex(t, x.resp))
		if err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		if r.SW != 0x9000 || !bytes.Equal(r.Data, unhex(t, x.respData)) {
			t.Fatalf("exchange %d: response %X %04X, want %s", i, r.Data, r.SW, x.respData)
		}
	}
	if got := hex.EncodeToString(s.SSC()); got != "887022120c06c22c" {
		t.Errorf("final SSC %s", got)
	}
}

func TestChipSideWorkedExample(t *testing.T) {
	s := session(t)
	for i, x := range exchanges {
		c, err := s.UnprotectCommand(unhex(t, x.prot))
		if err != nil {
			t.Fatalf("exchange %d: %v", i, err)
		}
		want := x.plain
		if want.Ne == 0 {
			want.Ne = 0 // SELECT carries no DO'97'
		}
		if c.CLA != want.CLA || c.INS != want.INS || c.P1 != want.P1 || c.P2 != want.P2 || c.Ne != want.Ne || !bytes.Equal(c.Data, want.Data) {
			t.Fatalf("exchange %d: command %+v, want %+v", i, c, want)
		}
		r := s.ProtectResponse(apdu.Response{Data: unhex(t, x.respData), SW: 0x9000})
		if !bytes.Equal(r, unhex(t, x.resp)) {
			t.Fatalf("exchange %d: response %X, want %s", i, r, x.resp)
		}
	}
}

func TestUnprotectHostile(t *testing.T) {
	good := unhex(t, exchanges[1].resp)
	junk := make([]byte, 10<<20)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range junk {
		junk[i] = byte(rnd.Uint32())
	}
	flip := func(i int) []byte { b := append([]byte(nil), good...); b[i] ^= 1; return b }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, apdu.ErrMalformed},
		{"bare 9000", []byte{0x90, 0x00}, ErrMalformed},
		{"MAC flipped", flip(len(good) - 3), ErrMAC},
		{"ciphertext flipped", flip(4), ErrMAC},
		{"status flipped", flip(14), ErrMAC},
		{"truncated", good[:len(good)-6], ErrMalformed},
		{"no DO'99'", unhex(t, "8709019FF0EC34F99226518E08AD55CC17140B2DED9000"), ErrMalformed},
		{"no DO'8E'", unhex(t, "8709019FF0EC34F9922651990290009000"), ErrMalformed},
		{"DO'87' not blocks", unhex(t, "870401AABBCC990290008E08AD55CC17140B2DED9000"), ErrMalformed},
		{"DO'87' bad indicator", unhex(t, "8709029FF0EC34F9922651990290008E08AD55CC17140B2DED9000"), ErrMalformed},
		{"object after DO'8E'", unhex(t, "990290008E08AD55CC17140B2DED990290009000"), ErrMalformed},
		{"unknown object", unhex(t, "5301009000"), ErrMalformed},
		{"10 MB junk", junk, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := session(t)
			s.Protect(exchanges[0].plain)
			s.Unprotect(unhex(t, exchanges[0].resp))
			s.Protect(exchanges[1].plain)
			_, err := s.Unprotect(tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
	// A bare error status passes through: it carries nothing to trust.
	r, err := session(t).Unprotect([]byte{0x69, 0x88})
	if err != nil || r.SW != 0x6988 {
		t.Errorf("bare 6988 = %+v %v", r, err)
	}
}

func TestRoundTripLarge(t *testing.T) {
	ifd, ic := session(t), session(t)
	data := bytes.Repeat([]byte{0x5A}, 224)
	p, err := ifd.Protect(apdu.Command{INS: 0xB0, P1: 0x12, P2: 0x34, Ne: 224})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ic.UnprotectCommand(p)
	if err != nil || c.Ne != 224 || c.P1 != 0x12 {
		t.Fatalf("UnprotectCommand = %+v %v", c, err)
	}
	resp := ic.ProtectResponse(apdu.Response{Data: data, SW: 0x9000})
	if len(resp) > 258 {
		t.Fatalf("protected response of %d bytes exceeds short Le", len(resp))
	}
	r, err := ifd.Unprotect(resp)
	if err != nil || !bytes.Equal(r.Data, data) {
		t.Fatalf("Unprotect = %v", err)
	}
	if _, err := ifd.Protect(apdu.Command{CLA: 0x0C, INS: 0xB0}); err == nil {
		t.Error("protected an already secured command")
	}
	if _, err := NewSession(make([]byte, 8), make([]byte, 16), make([]byte, 8)); err == nil {
		t.Error("short key accepted")
	}
}

func FuzzUnprotect(f *testing.F) {
	for _, x := range exchanges {
		f.Add(unhex(f, x.resp))
	}
	f.Add([]byte{0x69, 0x88})
	f.Add(unhex(f, "8781FF01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := session(t)
		r, err := s.Unprotect(b)
		if err != nil {
			return
		}
		// Only the recorded responses carry a valid MAC for SSC+1, or a
		// bare error status word.
		if len(r.Data) > 0 && !bytes.Equal(b, unhex(t, exchanges[0].resp)) && r.SW == 0x9000 {
			t.Fatalf("accepted forged response %X", b)
		}
	})
}

func FuzzUnprotectCommand(f *testing.F) {
	for _, x := range exchanges {
		f.Add(unhex(f, x.prot))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := session(t)
		c, err := s.UnprotectCommand(b)
		if err != nil {
			return
		}
		// Only the recorded SELECT carries a valid MAC for SSC+1; it may
		// come with or without its trailing Le byte.
		want := exchanges[0].plain
		if c.INS != want.INS || c.P1 != want.P1 || c.P2 != want.P2 || !bytes.Equal(c.Data, want.Data) {
			t.Fatalf("accepted forged command %X as %+v", b, c)
		}
	})
}
