package bac

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/apdu/apdutest"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Values of ICAO Doc 9303 Part 11 Appendix D.2 and D.3.
const (
	rndIC  = "4608F91988702212"
	rndIFD = "781723860C06C226"
	kIFD   = "0B795240CB7049B01C19B33E32804F0B"
	kIC    = "0B4F80323EB3191CB04970CB4052790B"
	cmdEA  = "0082000028 72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2 5F1448EEA8AD90A7 28"
	respEA = "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F 2F2D235D074D7449 9000"
)

func TestKeysWorkedExample(t *testing.T) {
	k, err := KeysFromMRZ("L898902C", "690806", "940623")
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(Seed("L898902C<369080619406236")); got != "239ab9cb282daf66231dc5a4df6bfbae" {
		t.Errorf("K_seed = %s", got)
	}
	if !bytes.Equal(k.Enc, unhex(t, "AB94FDECF2674FDFB9B391F85D7F76F2")) || !bytes.Equal(k.MAC, unhex(t, "7962D9ECE03D1ACD4C76089DCE131543")) {
		t.Errorf("keys = %X %X", k.Enc, k.MAC)
	}
	if _, err := KeysFromMRZ("L898902C", "69080", "940623"); err == nil {
		t.Error("short birth date accepted")
	}
}

func workedKeys(t *testing.T) Keys {
	k, err := KeysFromMRZ("L898902C", "690806", "940623")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAuthenticateRecorded(t *testing.T) {
	p := &apdutest.Playback{Steps: []apdutest.Step{
		{"0084000008", rndIC + "9000"},
		{cmdEA, respEA},
		// The first protected exchange of D.4 proves the session.
		{"0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800", "990290008E08FA855A5D4C50A8ED9000"},
	}}
	s, err := Authenticate(context.Background(), p, workedKeys(t), bytes.NewReader(unhex(t, rndIFD+kIFD)))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(s.SSC()); got != "887022120c06c226" {
		t.Errorf("SSC = %s", got)
	}
	cmd, err := s.Protect(apdu.Command{INS: 0xA4, P1: 2, P2: 0x0C, Data: []byte{1, 0x1E}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Transmit(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Unprotect(resp); err != nil || r.SW != 0x9000 {
		t.Fatalf("SELECT under session: %+v %v", r, err)
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
}

func TestChipWorkedExample(t *testing.T) {
	c := NewChip(workedKeys(t), bytes.NewReader(unhex(t, rndIC+kIC)))
	ch, err := c.Challenge()
	if err != nil || !bytes.Equal(ch, unhex(t, rndIC)) {
		t.Fatalf("challenge %X %v", ch, err)
	}
	cmd := unhex(t, cmdEA)
	resp, s, err := c.Authenticate(cmd[5 : 5+40])
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, respEA); !bytes.Equal(resp, want[:40]) {
		t.Errorf("E_IC||M_IC = %X", resp)
	}
	if got := hex.EncodeToString(s.SSC()); got != "887022120c06c226" {
		t.Errorf("SSC = %s", got)
	}
	// A challenge serves once.
	if _, _, err := c.Authenticate(cmd[5 : 5+40]); err == nil {
		t.Error("replayed cryptogram accepted")
	}
}

func TestAuthenticateFailures(t *testing.T) {
	ifdRnd := func() *bytes.Reader { return bytes.NewReader(unhex(t, rndIFD+kIFD)) }
	tests := []struct {
		name  string
		steps []apdutest.Step
		want  error
	}{
		{"wrong MRZ", []apdutest.Step{{"0084000008", rndIC + "9000"}, {cmdEA, "6300"}}, ErrAccessDenied},
		{"short challenge", []apdutest.Step{{"0084000008", "46089000"}}, ErrBadAnswer},
		{"garbage answer", []apdutest.Step{{"0084000008", rndIC + "9000"}, {cmdEA, "DEADBEEF9000"}}, ErrBadAnswer},
		{"bad M_IC", []apdutest.Step{{"0084000008", rndIC + "9000"}, {cmdEA, strings.Replace(respEA, "2F2D235D074D7449", "2F2D235D074D7448", 1)}}, ErrBadAnswer},
		{"no status", []apdutest.Step{{"0084000008", "90"}}, apdu.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Authenticate(context.Background(), &apdutest.Playback{Steps: tt.steps}, workedKeys(t), ifdRnd())
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
	var se *apdu.StatusError
	_, err := Authenticate(context.Background(), &apdutest.Playback{Steps: []apdutest.Step{{"0084000008", "6D00"}}}, workedKeys(t), ifdRnd())
	if !errors.As(err, &se) || se.SW != 0x6D00 {
		t.Errorf("unsupported GET CHALLENGE: %v", err)
	}
}

func TestChipRejectsWrongKeys(t *testing.T) {
	other, _ := KeysFromMRZ("X1234567", "690806", "940623")
	c := NewChip(other, nil)
	if _, err := c.Challenge(); err != nil {
		t.Fatal(err)
	}
	cmd := unhex(t, cmdEA)
	if _, _, err := c.Authenticate(cmd[5 : 5+40]); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("wrong keys: %v", err)
	}
}
