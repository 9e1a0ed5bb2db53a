package pace

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/apdu/apdutest"
	"github.com/guichet/guichet/eid/icao/ecc"
)

func TestParseCardAccessHostile(t *testing.T) {
	const pace128 = "3012 060A04007F00070202040202 020102 02010D"
	for _, tt := range []struct {
		name, in string
		want     error  // nil: parses
		n        int    // PACEInfos expected when it parses
		choose   string // a part of Choose's error, "" when it succeeds
	}{
		{name: "worked example", in: g1CardAccess, n: 1},
		{name: "with Chip Authentication and an unknown protocol", in: "3134 300F 060A04007F00070202030202 020101" + "300D 0608 2A864886F70D0101 020101" + pace128, n: 1},
		{name: "PACEDomainParameterInfo is skipped", in: "312B 3015 060904007F000702020402 3005 0603 2B0601 020101" + pace128, n: 1},
		{name: "empty SET", in: "3100", choose: "no PACEInfo"},
		{name: "version 1", in: "3114 3012 060A04007F00070202040202 020101 02010D", n: 1, choose: "offers PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1"},
		{name: "192-bit curve", in: "3114 3012 060A04007F00070202040202 020102 020108", n: 1, choose: "parameters 8"},
		{name: "DH mapping", in: "3114 3012 060A04007F00070202040102 020102 020102", n: 1, choose: "PACE-DH-GM-AES-CBC-CMAC-128"},
		{name: "integrated mapping", in: "3114 3012 060A04007F00070202040402 020102 02010D", n: 1, choose: "PACE-ECDH-IM-AES-CBC-CMAC-128"},
		{name: "proprietary parameters", in: "3111 300F 060A04007F00070202040202 020102", n: 1, choose: "proprietary"},
		{name: "empty", in: "", want: ErrMalformed},
		{name: "SEQUENCE, not SET", in: "3014" + pace128[4:], want: ErrMalformed},
		{name: "truncated", in: g1CardAccess[:30], want: ErrMalformed},
		{name: "bytes after the SET", in: g1CardAccess + "00", want: ErrMalformed},
		{name: "element not a SEQUENCE", in: "3103 020102", want: ErrMalformed},
		{name: "no version", in: "310E 300C 060A04007F00070202040202", want: ErrMalformed},
		{name: "version not an INTEGER", in: "3114 3012 060A04007F00070202040202 040102 02010D", want: ErrMalformed},
		{name: "parameterId too large", in: "311C 301A 060A04007F00070202040202 020102 0209010000000000000000", want: ErrMalformed},
		{name: "negative parameterId", in: "3114 3012 060A04007F00070202040202 020102 0201FF", want: ErrMalformed},
		{name: "bytes after parameterId", in: "3117 3015 060A04007F00070202040202 020102 02010D 0500", want: ErrMalformed},
		{name: "protocol alone", in: "310A 3008 0606 2A864886F70D", want: ErrMalformed},
		{name: "protocol not an OID", in: "3105 3003 020101", want: ErrMalformed},
		{name: "indefinite length", in: "3180 3012 060A04007F00070202040202 020102 02010D 0000", want: ErrMalformed},
		{name: "too many SecurityInfos", want: ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := unhex(t, tt.in)
			if tt.name == "too many SecurityInfos" {
				body := bytes.Repeat(unhex(t, "3005 06012B 0500"), 65)
				in = append([]byte{0x31, 0x82, byte(len(body) >> 8), byte(len(body))}, body...)
			}
			infos, err := ParseCardAccess(in)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("error %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil || len(infos) != tt.n {
				t.Fatalf("%d PACEInfos, %v; want %d", len(infos), err, tt.n)
			}
			_, err = Choose(infos)
			switch {
			case tt.choose == "" && err != nil:
				t.Errorf("Choose: %v", err)
			case tt.choose != "" && (!errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tt.choose)):
				t.Errorf("Choose: %v, want ErrUnsupported naming %q", err, tt.choose)
			}
		})
	}
}

// TestAuthenticateHostile replays the worked example with one answer of
// the chip changed: the reader must stop with a clear error.
func TestAuthenticateHostile(t *testing.T) {
	offCurve := g1PKMapIC[:len(g1PKMapIC)-2] + "55"
	for _, tt := range []struct {
		name   string
		step   int
		answer string
		want   error
		says   string
	}{
		{"MSE refused", 0, "6A80", nil, "MSE:Set AT for PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1 with the MRZ: card answered 6A80"},
		{"nonce truncated", 1, "7C12 8010 95A3A016 9000", ErrBadAnswer, "truncated"},
		{"nonce in the wrong tag", 1, "7C12 8110" + g1Z + "9000", ErrBadAnswer, "DO'81' where DO'80' was expected"},
		{"nonce of 8 bytes", 1, "7C0A 8008 95A3A016522EE98D 9000", ErrBadAnswer, "nonce of 8 bytes"},
		{"no 7C", 1, "8010" + g1Z + "9000", ErrBadAnswer, "tag 80, want 7C"},
		{"bytes after 7C", 1, "7C12 8010" + g1Z + "00 9000", ErrBadAnswer, "1 bytes after tag 7C"},
		{"empty answer", 1, "9000", ErrBadAnswer, "truncated"},
		{"mapping key off the curve", 2, "7C43 8241" + offCurve + "9000", ErrBadPoint, "not on brainpoolP256r1"},
		{"mapping key at infinity", 2, "7C03 8201 00 9000", ErrBadPoint, "1 bytes"},
		{"mapping key compressed", 2, "7C23 8221 02" + g1PKMapIC[3:67] + "9000", ErrBadPoint, "33 bytes"},
		{"ephemeral key echoed", 3, "7C43 8441" + g1PKIFD + "9000", ErrBadAnswer, "is the reader's"},
		{"ephemeral key off the curve", 3, "7C43 8441" + g1PKIC[:len(g1PKIC)-2] + "95" + "9000", ErrBadPoint, "not on"},
		{"wrong password", 4, "6300", ErrAccessDenied, "wrong MRZ data or CAN"},
		{"wrong password, counter", 4, "63C2", ErrAccessDenied, ""},
		{"token mismatch", 4, "7C0A 8608 3ABB9674BCE93C09 9000", ErrBadAnswer, "token does not verify"},
		{"token missing", 4, "7C0A 8708 3ABB9674BCE93C08 9000", ErrBadAnswer, "without DO'86'"},
		{"token twice", 4, "7C14 8608 3ABB9674BCE93C08 8608 3ABB9674BCE93C08 9000", ErrBadAnswer, "twice"},
		{"other error status", 4, "6A80", nil, "step 4: card answered 6A80"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			steps := append([]apdutest.Step(nil), g1Steps...)
			steps[tt.step][1] = tt.answer
			pw, _ := MRZPassword("T22000129", "640812", "101031")
			_, err := Authenticate(context.Background(), &apdutest.Playback{Steps: steps}, Info{Protocol: ECDHGMAES128, Version: 2, ParameterID: 13}, pw, bytes.NewReader(unhex(t, g1SKMapIFD+g1SKIFD)))
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if tt.want == nil {
				var se *apdu.StatusError
				if !errors.As(err, &se) {
					t.Errorf("error %v is no StatusError", err)
				}
			}
			if !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
	// The last step may carry the certificate authority references.
	steps := append([]apdutest.Step(nil), g1Steps...)
	steps[4][1] = "7C0F 8608" + g1TIC + "8703 555453 9000"
	pw, _ := MRZPassword("T22000129", "640812", "101031")
	if _, err := Authenticate(context.Background(), &apdutest.Playback{Steps: steps}, Info{Protocol: ECDHGMAES128, Version: 2, ParameterID: 13}, pw, bytes.NewReader(unhex(t, g1SKMapIFD+g1SKIFD))); err != nil {
		t.Errorf("token with CAR: %v", err)
	}
	if _, err := Authenticate(context.Background(), &apdutest.Playback{}, Info{Protocol: ECDHGMAES128, Version: 2, ParameterID: 8}, pw, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("192-bit curve: %v", err)
	}
}

func TestPasswords(t *testing.T) {
	if p, err := CANPassword(" 123456 "); err != nil || string(p.Key) != "123456" || p.Ref != RefCAN || p.Kind() != "CAN" {
		t.Errorf("CANPassword = %+v %v", p, err)
	}
	for _, bad := range []string{"", "12a456", "12345678901234567", "１２３"} {
		if _, err := CANPassword(bad); err == nil {
			t.Errorf("CANPassword(%q) accepted", bad)
		}
	}
	if _, err := MRZPassword("T22000129", "6408", "101031"); err == nil {
		t.Error("MRZPassword with a 4-digit date accepted")
	}
}

// TestChipHostile sends the chip side commands out of order or malformed:
// it must answer with an error status and forget the run.
func TestChipHostile(t *testing.T) {
	pw, _ := MRZPassword("T22000129", "640812", "101031")
	info := Info{Protocol: ECDHGMAES128, Version: 2, ParameterID: 13}
	mse := apdu.Command{INS: 0x22, P1: 0xC1, P2: 0xA4, Data: mseSetAT(info, RefMRZ)}
	ga := func(cla byte, data string) apdu.Command {
		return apdu.Command{CLA: cla, INS: 0x86, Data: unhex(t, data), Ne: 256}
	}
	for _, tt := range []struct {
		name string
		cmds []apdu.Command
		want uint16
	}{
		{"GA without MSE", []apdu.Command{ga(0x10, "7C00")}, apdu.SWConditions},
		{"unknown protocol", []apdu.Command{{INS: 0x22, P1: 0xC1, P2: 0xA4, Data: unhex(t, "800A04007F00070202040402 830101")}}, 0x6A88},
		{"CAN not known", []apdu.Command{{INS: 0x22, P1: 0xC1, P2: 0xA4, Data: mseSetAT(info, RefCAN)}}, 0x6A88},
		{"other parameters", []apdu.Command{{INS: 0x22, P1: 0xC1, P2: 0xA4, Data: unhex(t, "800A04007F00070202040202 830101 84010C")}}, 0x6A88},
		{"MSE with a CHAT", []apdu.Command{{INS: 0x22, P1: 0xC1, P2: 0xA4, Data: unhex(t, "800A04007F00070202040202 830101 7F4C00")}}, 0x6A80},
		{"MSE garbage", []apdu.Command{{INS: 0x22, P1: 0xC1, P2: 0xA4, Data: unhex(t, "80FF")}}, 0x6A80},
		{"MSE wrong P1-P2", []apdu.Command{{INS: 0x22, P1: 0x41, P2: 0xA4, Data: mse.Data}}, apdu.SWWrongParameters},
		{"chain ended early", []apdu.Command{mse, ga(0x00, "7C00")}, 0x6884},
		{"step 1 not empty", []apdu.Command{mse, ga(0x10, "7C03 810100")}, 0x6A80},
		{"mapping key off the curve", []apdu.Command{mse, ga(0x10, "7C00"), ga(0x10, "7C43 8141"+g1PKMapIFD[:len(g1PKMapIFD)-2]+"00")}, 0x6A80},
		{"mapping key in the wrong tag", []apdu.Command{mse, ga(0x10, "7C00"), ga(0x10, "7C43 8341"+g1PKMapIFD)}, 0x6A80},
		{"after a failure the run is gone", []apdu.Command{mse, ga(0x10, "7C00"), ga(0x10, "7C00"), ga(0x10, "7C00")}, apdu.SWConditions},
		{"class 0C", []apdu.Command{mse, ga(0x0C, "7C00")}, apdu.SWClaNotSupported},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := NewChip([]Info{info}, []Password{pw}, nil)
			var r apdu.Response
			for _, cmd := range tt.cmds {
				r, _ = c.Respond(cmd)
			}
			if r.SW != tt.want {
				t.Errorf("status %04X, want %04X", r.SW, tt.want)
			}
		})
	}
	// A wrong token: 6300, and the run is over.
	chip := &chipTransmitter{c: NewChip([]Info{info}, []Password{pw}, nil)}
	other, _ := MRZPassword("T22000129", "640812", "101032")
	if _, err := Authenticate(context.Background(), chip, info, other, nil); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("wrong MRZ: %v", err)
	}
	if r, _ := chip.c.Respond(ga(0x00, "7C00")); r.SW != apdu.SWConditions {
		t.Errorf("after a refused token: %04X", r.SW)
	}
}

func FuzzParseCardAccess(f *testing.F) {
	f.Add(unhex(f, g1CardAccess))
	f.Add(unhex(f, "3133 300F 060A04007F00070202030202 020101 300D 0608 2A864886F70D0101 020101 3012 060A04007F00070202040202 020102 02010D"))
	f.Add(unhex(f, "3111 300F 060A04007F00070202040202 020102"))
	f.Fuzz(func(t *testing.T, b []byte) {
		infos, err := ParseCardAccess(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		// What parses re-encodes to a file that parses the same.
		again, err := EncodeCardAccess(infos...)
		if err != nil {
			return
		}
		infos2, err := ParseCardAccess(again)
		if err != nil || len(infos2) != len(infos) {
			t.Fatalf("re-encoded %X does not parse back: %v", again, err)
		}
		Choose(infos)
	})
}

func FuzzParseDynamicAuth(f *testing.F) {
	for _, s := range g1Steps {
		b := unhex(f, s[1])
		f.Add(b[:len(b)-2])
	}
	f.Add(unhex(f, "7C00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, tag := range []uint32{0x80, 0x82, 0x84, 0x86} {
			v, err := parseDynamicAuth(b, tag, 0x87, 0x88)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v is not ErrMalformed", err)
				}
				continue
			}
			if len(v) > len(b) {
				t.Fatalf("value of %d bytes from %d", len(v), len(b))
			}
		}
		if len(b) > 0 {
			// Whatever the chip sends as its mapping key, the reader
			// only takes points of the curve.
			if p, err := ecc.BrainpoolP256r1.Decode(b); err == nil && !ecc.BrainpoolP256r1.OnCurve(p.X, p.Y) {
				t.Fatal("off-curve point accepted")
			}
		}
	})
}

// FuzzChip sends the chip side the worked example's chain with one
// command replaced by fuzzed bytes: it must never panic, and must not
// open a session without the reader's valid token.
func FuzzChip(f *testing.F) {
	for i, s := range g1Steps {
		f.Add(uint8(i), unhex(f, s[0]))
	}
	pw, _ := MRZPassword("T22000129", "640812", "101031")
	info := Info{Protocol: ECDHGMAES128, Version: 2, ParameterID: 13}
	f.Fuzz(func(t *testing.T, at uint8, b []byte) {
		c := NewChip([]Info{info}, []Password{pw}, bytes.NewReader(unhex(t, g1S+g1SKMapIC+g1SKIC)))
		for i, s := range g1Steps {
			raw := unhex(t, s[0])
			if i == int(at)%len(g1Steps) {
				raw = b
			}
			cmd, err := apdu.ParseCommand(raw)
			if err != nil {
				return
			}
			_, sess := c.Respond(cmd)
			if sess != nil && !bytes.Equal(raw, unhex(t, g1Steps[4][0])) {
				t.Fatalf("session opened by %X", raw)
			}
		}
	})
}

func TestParamByName(t *testing.T) {
	for name, want := range map[string]int{"brainpoolP256r1": 13, "P-256": 12, "NIST P-384": 15, " BRAINPOOLP512R1 ": 17} {
		if got, err := ParamByName(name); err != nil || got != want {
			t.Errorf("ParamByName(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
	if _, err := ParamByName("secp256k1"); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "brainpoolP256r1") {
		t.Errorf("unknown curve: %v", err)
	}
}
