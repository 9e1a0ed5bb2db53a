package pace

import (
	"bytes"
	"context"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/apdu/apdutest"
	"github.com/guichet/guichet/eid/icao/ecc"
	"github.com/guichet/guichet/eid/icao/mrz"
	"github.com/guichet/guichet/eid/icao/sm"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The worked example of ICAO Doc 9303 Part 11 Appendix G.1:
// PACE-ECDH-GM-AES-CBC-CMAC-128 on brainpoolP256r1 with the MRZ of
// document T22000129, born 640812, expiring 101031.
const (
	g1CardAccess = "3114 3012 060A04007F00070202040202 020102 02010D"
	g1K          = "7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD"
	g1Kpi        = "89DED1B26624EC1E634C1989302849DD"
	g1Z          = "95A3A016522EE98D01E76CB6B98B42C3"
	g1S          = "3F00C4D39D153F2B2A214A078D899B22"
	g1SKMapIFD   = "7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99"
	g1PKMapIFD   = "04 7ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E 544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D"
	g1SKMapIC    = "498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560"
	g1PKMapIC    = "04 824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57 30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"
	g1H          = "04 60332EF2450B5D247EF6D3868397D398852ED6E8CAF6FFEEF6BF85CA57057FD5 0840CA7415BAF3E43BD414D35AA4608B93A2CAF3A4E3EA4E82C9C13D03EB7181"
	g1G          = "04 8CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2 8C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522"
	g1SKIFD      = "A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595"
	g1PKIFD      = "04 2DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C 3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462"
	g1SKIC       = "107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A"
	g1PKIC       = "04 9E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB 7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094"
	g1Shared     = "28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925"
	g1KSEnc      = "F5F0E35C0D7161EE6724EE513A0D9A7F"
	g1KSMac      = "FE251C7858B356B24514B3BD5F4297D1"
	g1TIFDInput  = "7F494F 060A04007F00070202040202 8641" + g1PKIC
	g1TICInput   = "7F494F 060A04007F00070202040202 8641" + g1PKIFD
	g1TIFD       = "C2B0BD78D94BA866"
	g1TIC        = "3ABB9674BCE93C08"
)

// g1Steps are the APDUs of the worked example, from MSE:Set AT to the
// last GENERAL AUTHENTICATE.
var g1Steps = []apdutest.Step{
	{"0022C1A412 800A04007F00070202040202 830101 84010D", "9000"},
	{"10860000 02 7C00 00", "7C12 8010" + g1Z + "9000"},
	{"10860000 45 7C43 8141" + g1PKMapIFD + "00", "7C43 8241" + g1PKMapIC + "9000"},
	{"10860000 45 7C43 8341" + g1PKIFD + "00", "7C43 8441" + g1PKIC + "9000"},
	{"00860000 0C 7C0A 8508" + g1TIFD + "00", "7C0A 8608" + g1TIC + "9000"},
}

func scalar(t testing.TB, s string) *big.Int { return new(big.Int).SetBytes(unhex(t, s)) }

// TestWorkedExampleValues checks every intermediate value of Appendix
// G.1, each computed from the ones before it.
func TestWorkedExampleValues(t *testing.T) {
	c := ecc.BrainpoolP256r1
	st, err := Info{Protocol: ECDHGMAES128, Version: 2, ParameterID: 13}.suite()
	if err != nil {
		t.Fatal(err)
	}
	dec := func(s string) ecc.Point {
		p, err := c.Decode(unhex(t, s))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw, err := MRZPassword("T22000129", "640812", "101031")
	if err != nil {
		t.Fatal(err)
	}
	info, _ := mrz.KeyInfo("T22000129", "640812", "101031")
	kpi, _ := st.passwordKey(pw)
	s, _ := nonce(kpi, unhex(t, g1Z), false)
	z, _ := nonce(kpi, unhex(t, g1S), true)
	h := c.Mul(scalar(t, g1SKMapIFD), dec(g1PKMapIC))
	g, _ := mapGenerator(c, unhex(t, g1S), dec(g1H))
	kIFD, _ := sharedSecret(c, scalar(t, g1SKIFD), dec(g1PKIC))
	kIC, _ := sharedSecret(c, scalar(t, g1SKIC), dec(g1PKIFD))
	ksEnc, ksMac, _ := st.sessionKeys(unhex(t, g1Shared))
	tIFD, _ := token(unhex(t, g1KSMac), ECDHGMAES128, unhex(t, g1PKIC))
	tIC, _ := token(unhex(t, g1KSMac), ECDHGMAES128, unhex(t, g1PKIFD))
	ca, _ := EncodeCardAccess(Info{Protocol: ECDHGMAES128, Version: 2, ParameterID: 13})
	for _, tt := range []struct {
		name string
		got  []byte
		want string
	}{
		{"MRZ information", []byte(info), hex.EncodeToString([]byte("T22000129364081251010318"))},
		{"K = f(π) = SHA-1(MRZ information)", pw.Key, g1K},
		{"K_pi = KDF(K, 3)", kpi, g1Kpi},
		{"s = D(K_pi, z)", s, g1S},
		{"z = E(K_pi, s)", z, g1Z},
		{"PK_map,IFD = SK_map,IFD·G", c.Encode(c.Mul(scalar(t, g1SKMapIFD), c.Generator())), g1PKMapIFD},
		{"PK_map,IC = SK_map,IC·G", c.Encode(c.Mul(scalar(t, g1SKMapIC), c.Generator())), g1PKMapIC},
		{"H = SK_map,IFD·PK_map,IC", c.Encode(h), g1H},
		{"H = SK_map,IC·PK_map,IFD", c.Encode(c.Mul(scalar(t, g1SKMapIC), dec(g1PKMapIFD))), g1H},
		{"G' = s·G + H", c.Encode(g), g1G},
		{"PK_IFD = SK_IFD·G'", c.Encode(c.Mul(scalar(t, g1SKIFD), dec(g1G))), g1PKIFD},
		{"PK_IC = SK_IC·G'", c.Encode(c.Mul(scalar(t, g1SKIC), dec(g1G))), g1PKIC},
		{"K = x(SK_IFD·PK_IC)", kIFD, g1Shared},
		{"K = x(SK_IC·PK_IFD)", kIC, g1Shared},
		{"KS_enc = KDF(K, 1)", ksEnc, g1KSEnc},
		{"KS_mac = KDF(K, 2)", ksMac, g1KSMac},
		{"T_IFD input", tokenInput(ECDHGMAES128, unhex(t, g1PKIC)), g1TIFDInput},
		{"T_IC input", tokenInput(ECDHGMAES128, unhex(t, g1PKIFD)), g1TICInput},
		{"T_IFD", tIFD, g1TIFD},
		{"T_IC", tIC, g1TIC},
		{"EF.CardAccess", ca, g1CardAccess},
		{"MSE:Set AT data", mseSetAT(Info{Protocol: ECDHGMAES128, Version: 2, ParameterID: 13}, RefMRZ), "800A04007F00070202040202 830101 84010D"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Equal(tt.got, unhex(t, tt.want)) {
				t.Errorf("%X\nwant %s", tt.got, strings.Join(strings.Fields(tt.want), ""))
			}
		})
	}
	infos, err := ParseCardAccess(unhex(t, g1CardAccess))
	if err != nil || len(infos) != 1 || !infos[0].Protocol.Equal(ECDHGMAES128) || infos[0].Version != 2 || infos[0].ParameterID != 13 {
		t.Fatalf("ParseCardAccess = %+v %v", infos, err)
	}
	if got := infos[0].String(); got != "PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1" {
		t.Errorf("String() = %q", got)
	}
}

// TestWorkedExampleReader plays the chip's answers of Appendix G.1 to the
// reader, which must send exactly the appendix's commands.
func TestWorkedExampleReader(t *testing.T) {
	p := &apdutest.Playback{Steps: g1Steps}
	pw, _ := MRZPassword("T22000129", "640812", "101031")
	info := Info{Protocol: ECDHGMAES128, Version: 2, ParameterID: 13}
	s, err := Authenticate(context.Background(), p, info, pw, bytes.NewReader(unhex(t, g1SKMapIFD+g1SKIFD)))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
	if !bytes.Equal(s.SSC(), make([]byte, 16)) || s.BlockSize() != 16 {
		t.Errorf("session SSC %X, block %d", s.SSC(), s.BlockSize())
	}
	assertSessionKeys(t, s, g1KSEnc, g1KSMac)
}

// assertSessionKeys checks that s protects as a session built from the
// given keys does, and returns the protected command for the chip.
func assertSessionKeys(t *testing.T, s *sm.Session, enc, mac string) []byte {
	t.Helper()
	ref, err := sm.NewAESSession(unhex(t, enc), unhex(t, mac), make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	cmd := apdu.Command{INS: 0xA4, P1: 0x04, P2: 0x0C, Data: unhex(t, "A0000002471001")}
	a, _ := s.Protect(cmd)
	b, _ := ref.Protect(cmd)
	if !bytes.Equal(a, b) {
		t.Errorf("session protects SELECT as %X, want %X", a, b)
	}
	return a
}

// recorder keeps the transcript of an exchange, in the Playback's form.
type recorder struct {
	t     apdu.Transmitter
	steps []apdutest.Step
}

func (r *recorder) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	resp, err := r.t.Transmit(ctx, cmd)
	r.steps = append(r.steps, apdutest.Step{hex.EncodeToString(cmd), hex.EncodeToString(resp)})
	return resp, err
}

// chipTransmitter puts a Chip behind a Transmitter and keeps the session
// it ends with.
type chipTransmitter struct {
	c    *Chip
	sess *sm.Session
}

func (ct *chipTransmitter) Transmit(_ context.Context, b []byte) ([]byte, error) {
	cmd, err := apdu.ParseCommand(b)
	if err != nil {
		return apdu.Response{SW: apdu.SWWrongLength}.Bytes(), nil
	}
	r, s := ct.c.Respond(cmd)
	if s != nil {
		ct.sess = s
	}
	return r.Bytes(), nil
}

// TestWorkedExampleBothSides runs the reader against the chip side, each
// with the appendix's random values: the transcript must be the
// appendix's, and both must end with the same session.
func TestWorkedExampleBothSides(t *testing.T) {
	pw, _ := MRZPassword("T22000129", "640812", "101031")
	info := Info{Protocol: ECDHGMAES128, Version: 2, ParameterID: 13}
	chip := &chipTransmitter{c: NewChip([]Info{info}, []Password{pw}, bytes.NewReader(unhex(t, g1S+g1SKMapIC+g1SKIC)))}
	rec := &recorder{t: chip}
	s, err := Authenticate(context.Background(), rec, info, pw, bytes.NewReader(unhex(t, g1SKMapIFD+g1SKIFD)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.steps) != len(g1Steps) {
		t.Fatalf("%d exchanges, want %d", len(rec.steps), len(g1Steps))
	}
	for i, st := range rec.steps {
		for j := range 2 {
			if want := strings.ToLower(strings.Join(strings.Fields(g1Steps[i][j]), "")); st[j] != want {
				t.Errorf("exchange %d part %d:\n %s\nwant\n %s", i, j, st[j], want)
			}
		}
	}
	if chip.sess == nil {
		t.Fatal("chip has no session")
	}
	p := assertSessionKeys(t, s, g1KSEnc, g1KSMac)
	if _, err := chip.sess.UnprotectCommand(p); err != nil {
		t.Errorf("chip cannot read the reader's first protected command: %v", err)
	}
}

// TestEveryCurveAndCipher runs PACE with random keys on every curve and
// AES key length implemented, with the MRZ and with a CAN.
func TestEveryCurveAndCipher(t *testing.T) {
	mrzPw, _ := MRZPassword("L898902C3", "740812", "340415")
	canPw, _ := CANPassword("123456")
	for id := range standardCurves {
		for _, oid := range []struct {
			name string
			oid  []int
		}{{"128", ECDHGMAES128}, {"192", ECDHGMAES192}, {"256", ECDHGMAES256}} {
			info := Info{Protocol: oid.oid, Version: 2, ParameterID: id}
			t.Run(info.String(), func(t *testing.T) {
				for _, pw := range []Password{mrzPw, canPw} {
					chip := &chipTransmitter{c: NewChip([]Info{info}, []Password{mrzPw, canPw}, nil)}
					s, err := Authenticate(context.Background(), chip, info, pw, nil)
					if err != nil {
						t.Fatalf("%s: %v", pw.Kind(), err)
					}
					p, _ := s.Protect(apdu.Command{INS: 0xB0, Ne: 4})
					if _, err := chip.sess.UnprotectCommand(p); err != nil {
						t.Fatalf("%s: sessions differ: %v", pw.Kind(), err)
					}
				}
			})
		}
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	pw, _ := MRZPassword("L898902C3", "740812", "340415")
	for _, id := range []int{ParamBrainpoolP256r1, ParamP256} {
		info := Info{Protocol: ECDHGMAES128, Version: 2, ParameterID: id}
		b.Run(info.String(), func(b *testing.B) {
			for b.Loop() {
				chip := &chipTransmitter{c: NewChip([]Info{info}, []Password{pw}, nil)}
				if _, err := Authenticate(context.Background(), chip, info, pw, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
