package sm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/guichet/guichet/eid/icao/apdu"
)

// The examples of RFC 4493 section 4 (AES-128 key of NIST SP 800-38B
// appendix D.1).
func TestCMACRFC4493(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	for _, tt := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		got, err := CMAC(key, msg[:tt.n])
		if err != nil || !bytes.Equal(got, unhex(t, tt.want)) {
			t.Errorf("CMAC of %d bytes = %X %v, want %s", tt.n, got, err, tt.want)
		}
	}
	if _, err := CMAC(make([]byte, 15), nil); err == nil {
		t.Error("15-byte key accepted")
	}
}

// The key derivations of Doc 9303 Part 11 Appendix G.1: K_pi from
// f(MRZ), KS_enc and KS_mac from the ECDH shared secret.
func TestKDFWorkedExample(t *testing.T) {
	const k = "28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925"
	for _, tt := range []struct {
		seed    string
		counter uint32
		want    string
	}{
		{"7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD", CounterPACE, "89DED1B26624EC1E634C1989302849DD"},
		{k, CounterEnc, "F5F0E35C0D7161EE6724EE513A0D9A7F"},
		{k, CounterMAC, "FE251C7858B356B24514B3BD5F4297D1"},
	} {
		got, err := KDF(unhex(t, tt.seed), tt.counter, 16)
		if err != nil || !bytes.Equal(got, unhex(t, tt.want)) {
			t.Errorf("KDF(%s, %d) = %X %v, want %s", tt.seed, tt.counter, got, err, tt.want)
		}
	}
	// AES-192 and -256 take SHA-256, cut to the key length.
	k32, _ := KDF(unhex(t, k), CounterEnc, 32)
	k24, _ := KDF(unhex(t, k), CounterEnc, 24)
	if len(k32) != 32 || !bytes.Equal(k24, k32[:24]) {
		t.Errorf("KDF 24/32: %X %X", k24, k32)
	}
	if _, err := KDF(nil, 1, 20); err == nil {
		t.Error("20-byte key length accepted")
	}
}

// Exchanges recorded between a reader and a real chip under AES secure
// messaging, as published with gmrtd's tests: a protected MSE:Set AT and a
// READ BINARY answer of 223 bytes.
func TestAESRecordedExchanges(t *testing.T) {
	s, err := NewAESSession(unhex(t, "cc86415f2ed7e8fd663b754265695ae1"), unhex(t, "581e84b8ee06c4d3eee30461498d7fb3"), unhex(t, "000000000000000000000000000000ba"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Protect(apdu.Command{INS: 0x22, P1: 0x41, P2: 0xA4, Data: unhex(t, "800a04007f000702020302028401c3")})
	if err != nil {
		t.Fatal(err)
	}
	// The recording has no Le; this package always asks Le=00 so that the
	// chip may answer with DO'99' and DO'8E'.
	if want := unhex(t, "0c2241a41d871101980953d37f67558690045d78a853b18a8e08929767a2cef172e200"); !bytes.Equal(p, want) {
		t.Errorf("protected MSE\n %X\nwant\n %X", p, want)
	}
	if got := s.SSC(); !bytes.Equal(got, unhex(t, "000000000000000000000000000000bb")) {
		t.Errorf("SSC %X", got)
	}

	s, _ = NewAESSession(unhex(t, "a8e85e938514ec67ae33cda3d43d3c48"), unhex(t, "27f1adeb705a049a305b0c619b14b9b3"), unhex(t, "0000000000000000000000000000000b"))
	r, err := s.Unprotect(unhex(t, "8781e1012fabf9e0655d7e987fd28a8aeb19c9cadd990d49399799ed1fe465bcea56da9ba3024291d40d23d7f1e00485d71faddc6d8c1382e8028dd22efdcc72ed47663d56d20dd6c4b867956fe0507313083ae7fc54fb46133f184febbe13ad6fd3e2616a1f4a829e75ada1a0e443ca738288f6014be8a7745d8259b089e6bee35bcc4bf5b63db5fdd84244f67eca099213b70a861b4487225aa68af684278fceb4cb809de42be3ee95b0e0d72bcdb0ed47cb56efc264e04a9397a90e81ad1d81efa2d14b2ca8ec7bd997f4b1c1fd344d5dee8589c38b227ca4cb35810060a7cc76403e990290008e083eb47ef4fa82afc99000"))
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, "a729901d1a71874700133107ec53306404307bc382c63d8c150c3c72080ace05afa0c2bea28e4fb22787139165efba91f90f8aa5814a503ad4eb04a8c7dd22ce2826043004a8c7dd22ce28268b39b55416f0447c2fb77de107dcd2a62e880ea53eeb62d57cb4390295dbc9943ab78696fa504c110461041d1c64f068cf45ffa2a63a81b7c13f6b8847a3e77ef14fe3db7fcafe0cbd10e8e826e03436d646aaef87b2e247d4af1e8abe1d7520f9c2a45cb1eb8e95cfd55262b70b29feec5864e19c054ff99129280e4646217791811142820341263c53150231008cb91e82a3")
	if r.SW != 0x9000 || !bytes.Equal(r.Data, want) {
		t.Errorf("READ BINARY answer %X %04X", r.Data, r.SW)
	}
}

func aesPair(t testing.TB) (ifd, ic *Session) {
	ke, km := unhex(t, "F5F0E35C0D7161EE6724EE513A0D9A7F"), unhex(t, "FE251C7858B356B24514B3BD5F4297D1")
	ifd, err := NewAESSession(ke, km, make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	ic, _ = NewAESSession(ke, km, make([]byte, 16))
	return ifd, ic
}

func TestAESRoundTrip(t *testing.T) {
	ifd, ic := aesPair(t)
	if ifd.BlockSize() != 16 {
		t.Fatalf("block size %d", ifd.BlockSize())
	}
	for _, n := range []int{0, 1, 15, 16, 17, 100, 223} {
		data := bytes.Repeat([]byte{byte(n)}, n)
		p, err := ifd.Protect(apdu.Command{INS: 0xA4, P1: 2, P2: 0x0C, Data: data, Ne: n})
		if err != nil {
			t.Fatal(err)
		}
		c, err := ic.UnprotectCommand(p)
		if err != nil || !bytes.Equal(c.Data, data) {
			t.Fatalf("%d bytes: UnprotectCommand = %X %v", n, c.Data, err)
		}
		resp := ic.ProtectResponse(apdu.Response{Data: data, SW: 0x6282})
		// 223 bytes is the most that fits a short response under AES.
		if len(resp) > 258 {
			t.Fatalf("protected response of %d bytes exceeds short Le", len(resp))
		}
		r, err := ifd.Unprotect(resp)
		if err != nil || !bytes.Equal(r.Data, data) || r.SW != 0x6282 {
			t.Fatalf("%d bytes: Unprotect = %X %04X %v", n, r.Data, r.SW, err)
		}
	}
	if got := ifd.SSC(); !bytes.Equal(got, ic.SSC()) || got[15] != 14 {
		t.Errorf("SSC %X and %X", got, ic.SSC())
	}
	// A response MACed under the previous SSC is a replay.
	old := ic.ProtectResponse(apdu.Response{SW: 0x9000})
	ifd.Protect(apdu.Command{INS: 0xB0, Ne: 1})
	if _, err := ifd.Unprotect(old); !errors.Is(err, ErrMAC) {
		t.Errorf("replayed response: %v", err)
	}
	for _, bad := range [][3]int{{16, 15, 16}, {16, 16, 8}, {20, 16, 16}} {
		if _, err := NewAESSession(make([]byte, bad[0]), make([]byte, bad[1]), make([]byte, bad[2])); err == nil {
			t.Errorf("NewAESSession(%v) accepted", bad)
		}
	}
}

func TestAESUnprotectHostile(t *testing.T) {
	ifd, ic := aesPair(t)
	p, _ := ifd.Protect(apdu.Command{INS: 0xB0, Ne: 4})
	if _, err := ic.UnprotectCommand(p); err != nil {
		t.Fatal(err)
	}
	good := ic.ProtectResponse(apdu.Response{Data: []byte{1, 2, 3, 4}, SW: 0x9000})
	for _, tt := range []struct {
		name string
		in   []byte
		want error
	}{
		// A DO'87' of 8-byte blocks is triple DES's, not AES's.
		{"DO'87' of 8 bytes", unhex(t, "870901000000000000000099029000"+"8E080000000000000000"+"9000"), ErrMalformed},
		{"MAC flipped", func() []byte { b := append([]byte(nil), good...); b[len(b)-3] ^= 1; return b }(), ErrMAC},
	} {
		ifd2, _ := aesPair(t)
		ifd2.Protect(apdu.Command{INS: 0xB0, Ne: 4})
		if _, err := ifd2.Unprotect(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if r, err := ifd.Unprotect(good); err != nil || !bytes.Equal(r.Data, []byte{1, 2, 3, 4}) {
		t.Errorf("good response: %X %v", r.Data, err)
	}
}
