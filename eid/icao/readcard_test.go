package icao

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/pa"
	"github.com/guichet/guichet/eid/icao/pace"
	"github.com/guichet/guichet/eid/icao/vcard"
)

var specimenAccess = cardreader.Access{DocumentNumber: "L898902C3", BirthDate: "740812", ExpiryDate: "340415"}

// issuePACE issues the specimen with PACE offered as infos, and CAN 123456.
func issuePACE(t testing.TB, infos ...pace.Info) *vcard.Document {
	doc := issue(t)
	if err := doc.EnablePACE("123456", infos...); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestReadCardPACE(t *testing.T) {
	p256 := pace.Info{Protocol: pace.ECDHGMAES256, Version: 2, ParameterID: pace.ParamP256}
	wrongCAN := specimenAccess
	wrongCAN.CAN = "123457"
	withCAN := specimenAccess
	withCAN.CAN = "123456"
	tests := []struct {
		name       string
		doc        func(t testing.TB) *vcard.Document
		access     cardreader.Access
		wantAccess string
		paceFailed string // a part of PACEFailed, "" for none
		want       error
		says       string
	}{
		{name: "PACE with the MRZ", doc: func(t testing.TB) *vcard.Document { return issuePACE(t) }, access: specimenAccess,
			wantAccess: "PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1 with the MRZ"},
		{name: "PACE with the CAN", doc: func(t testing.TB) *vcard.Document { return issuePACE(t) }, access: cardreader.Access{CAN: "123456"},
			wantAccess: "PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1 with the CAN"},
		{name: "the CAN first when both are given", doc: func(t testing.TB) *vcard.Document { return issuePACE(t) }, access: withCAN,
			wantAccess: "PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1 with the CAN"},
		{name: "AES-256 on P-256, the chip's first choice", doc: func(t testing.TB) *vcard.Document { return issuePACE(t, p256, vcard.DefaultPACE) }, access: specimenAccess,
			wantAccess: "PACE-ECDH-GM-AES-CBC-CMAC-256 NIST P-256 with the MRZ"},
		{name: "unknown PACE first, known second", doc: func(t testing.TB) *vcard.Document {
			d := issuePACE(t)
			d.Files[pace.FileCardAccess], _ = pace.EncodeCardAccess(pace.Info{Protocol: pace.ECDHGMAES128, Version: 2, ParameterID: 9}, vcard.DefaultPACE)
			return d
		}, access: specimenAccess, wantAccess: "PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1 with the MRZ"},
		{name: "BAC without EF.CardAccess", doc: issue, access: withCAN, wantAccess: "BAC"},
		{name: "BAC with an EF.CardAccess without PACEInfo", doc: func(t testing.TB) *vcard.Document {
			d := issuePACE(t)
			// A ChipAuthenticationInfo alone.
			d.Files[pace.FileCardAccess] = []byte{0x31, 0x11, 0x30, 0x0F, 0x06, 0x0A, 0x04, 0x00, 0x7F, 0x00, 0x07, 0x02, 0x02, 0x03, 0x02, 0x02, 0x02, 0x01, 0x01}
			return d
		}, access: specimenAccess, wantAccess: "BAC"},
		{name: "wrong CAN falls back to BAC with the MRZ", doc: func(t testing.TB) *vcard.Document { return issuePACE(t) }, access: wrongCAN,
			wantAccess: "BAC", paceFailed: "wrong CAN"},
		{name: "damaged EF.CardAccess falls back to BAC", doc: func(t testing.TB) *vcard.Document {
			d := issuePACE(t)
			d.Files[pace.FileCardAccess] = []byte{0x31, 0x03, 0x02, 0x01, 0x02}
			return d
		}, access: specimenAccess, wantAccess: "BAC", paceFailed: "not a SEQUENCE"},
		{name: "only unknown PACE falls back to BAC", doc: func(t testing.TB) *vcard.Document {
			d := issuePACE(t)
			d.Files[pace.FileCardAccess], _ = pace.EncodeCardAccess(pace.Info{Protocol: pace.ECDHGMAES128, Version: 2, ParameterID: 9})
			return d
		}, access: specimenAccess, wantAccess: "BAC", paceFailed: "parameters 9"},
		{name: "wrong CAN alone", doc: func(t testing.TB) *vcard.Document { return issuePACE(t) }, access: cardreader.Access{CAN: "654321"},
			want: ErrWrongCAN, says: "wrong CAN?"},
		{name: "CAN for a chip without PACE", doc: issue, access: cardreader.Access{CAN: "123456"}, want: ErrNeedMRZ},
		{name: "wrong MRZ on a chip with PACE alone", doc: func(t testing.TB) *vcard.Document { d := issuePACE(t); d.NoBAC = true; return d },
			access: cardreader.Access{DocumentNumber: "L898902C3", BirthDate: "740812", ExpiryDate: "340416"}, want: ErrAccessDenied, says: "then BAC"},
		{name: "wrong MRZ on a chip with PACE and BAC", doc: func(t testing.TB) *vcard.Document { return issuePACE(t) },
			access: cardreader.Access{DocumentNumber: "L898902C3", BirthDate: "740812", ExpiryDate: "340416"}, want: ErrAccessDenied, says: "wrong MRZ"},
		{name: "no access data", doc: issue, says: "MRZ data (document number, birth and expiry dates) or the card access number is needed"},
		{name: "CAN not digits", doc: issue, access: cardreader.Access{CAN: "12E456"}, says: "not digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := vcard.NewCard(tt.doc(t), nil)
			d, err := ReadCard(context.Background(), direct(card), tt.access, Options{CSCA: pa.NewPool(testIssuer(t).CSCA)})
			if tt.want != nil || tt.says != "" && tt.wantAccess == "" {
				if err == nil {
					t.Fatal("no error")
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Errorf("error %v, want %v", err, tt.want)
				}
				if !strings.Contains(err.Error(), tt.says) {
					t.Errorf("error %q does not say %q", err, tt.says)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !d.Verified || d.MRZ.DocumentNumber != "L898902C3" || d.Face == nil || !bytes.Equal(d.Face.Data, vcard.DemoPhoto) {
				t.Errorf("document: verified %v, MRZ %+v, face %v", d.Verified, d.MRZ, d.Face != nil)
			}
			if d.Access != tt.wantAccess {
				t.Errorf("Access %q, want %q", d.Access, tt.wantAccess)
			}
			switch {
			case tt.paceFailed == "" && d.PACEFailed != nil:
				t.Errorf("PACEFailed: %v", d.PACEFailed)
			case tt.paceFailed != "" && (d.PACEFailed == nil || !strings.Contains(d.PACEFailed.Error(), tt.paceFailed)):
				t.Errorf("PACEFailed %v, want it to say %q", d.PACEFailed, tt.paceFailed)
			}
		})
	}
}

// TestReadCardPACEHostile changes one answer of a chip offering PACE and
// BAC: the reader falls back to BAC when PACE breaks, and stops when the
// transport does.
func TestReadCardPACEHostile(t *testing.T) {
	// Exchanges: 1 SELECT EF.CardAccess, 2 and 3 its two reads, 4 MSE:Set
	// AT, 5 to 8 GENERAL AUTHENTICATE.
	tests := []struct {
		name       string
		at         int
		change     func(resp []byte) []byte
		paceFailed error
	}{
		{"garbage nonce", 5, func([]byte) []byte { return []byte{0x7C, 0x03, 0x80, 0x01, 0x00, 0x90, 0x00} }, pace.ErrBadAnswer},
		{"mapping key off the curve", 6, func(r []byte) []byte { r[len(r)-3] ^= 1; return r }, pace.ErrBadPoint},
		{"ephemeral key truncated", 7, func(r []byte) []byte { return append(r[:20], 0x90, 0x00) }, pace.ErrBadAnswer},
		{"chip's token altered", 8, func(r []byte) []byte { r[len(r)-3] ^= 1; return r }, pace.ErrBadAnswer},
		{"MSE refused", 4, func([]byte) []byte { return []byte{0x6A, 0x80} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := &vcard.Intercept{Responder: vcard.NewCard(issuePACE(t), nil), Func: func(n int, _, resp []byte) []byte {
				if n == tt.at {
					return tt.change(resp)
				}
				return resp
			}}
			d, err := ReadCard(context.Background(), direct(card), specimenAccess, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Access != "BAC" || d.PACEFailed == nil {
				t.Fatalf("Access %q, PACEFailed %v", d.Access, d.PACEFailed)
			}
			if tt.paceFailed != nil && !errors.Is(d.PACEFailed, tt.paceFailed) {
				t.Errorf("PACEFailed %v, want %v", d.PACEFailed, tt.paceFailed)
			}
			var se *apdu.StatusError
			if tt.paceFailed == nil && !errors.As(d.PACEFailed, &se) {
				t.Errorf("PACEFailed %v is no StatusError", d.PACEFailed)
			}
		})
	}
	// With the CAN alone, a broken PACE is a bad answer, not a fallback.
	card := &vcard.Intercept{Responder: vcard.NewCard(issuePACE(t), nil), Func: func(n int, _, resp []byte) []byte {
		if n == 8 {
			resp[len(resp)-3] ^= 1
		}
		return resp
	}}
	if _, err := ReadCard(context.Background(), direct(card), cardreader.Access{CAN: "123456"}, Options{}); !errors.Is(err, ErrBadAnswer) || !errors.Is(err, pace.ErrBadAnswer) {
		t.Errorf("altered token with the CAN: %v", err)
	}
	// A cancelled read stops in PACE.
	ctx, cancel := context.WithCancel(context.Background())
	card = &vcard.Intercept{Responder: vcard.NewCard(issuePACE(t), nil), Func: func(n int, _, resp []byte) []byte {
		if n == 5 {
			cancel()
		}
		return resp
	}}
	if _, err := ReadCard(ctx, direct(card), specimenAccess, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestReadCardWorkedExamplePACE reads a virtual card holding the document
// of Doc 9303 Part 11 Appendix G with the appendix's random values on both
// sides: after EF.CardAccess, the PACE exchanges must be the appendix's.
func TestReadCardWorkedExamplePACE(t *testing.T) {
	h := vcard.Specimen
	h.DocumentNumber, h.BirthDate, h.ExpiryDate = "T22000129", "640812", "101031"
	doc, err := vcard.Issue(h, vcard.DemoPhoto, testIssuer(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.EnablePACE(""); err != nil {
		t.Fatal(err)
	}
	unhex := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	chipRnd := unhex("3F00C4D39D153F2B2A214A078D899B22" + "498FF49756F2DC1587840041839A85982BE7761D14715FB091EFA7BCE9058560" + "107CF58696EF6155053340FD633392BA81909DF7B9706F226F32086C7AFF974A")
	ifdRnd := unhex("7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99" + "A73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595")
	rec := &recorder{t: direct(vcard.NewCard(doc, bytes.NewReader(chipRnd)))}
	d, err := ReadCard(context.Background(), rec, cardreader.Access{DocumentNumber: "T22000129", BirthDate: "640812", ExpiryDate: "101031"}, Options{Rand: bytes.NewReader(ifdRnd), SkipPhoto: true, CSCA: pa.NewPool(testIssuer(t).CSCA)})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Verified || d.Access != "PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1 with the MRZ" {
		t.Errorf("verified %v, access %q", d.Verified, d.Access)
	}
	want := [][2]string{
		{"00A4020C02011C", "9000"},
		{"00B0000004", "311430129000"},
		{"00B0000412", "060A04007F0007020204020202010202010D9000"},
		{"0022C1A412800A04007F0007020204020283010184010D", "9000"},
		{"10860000027C0000", "7C12801095A3A016522EE98D01E76CB6B98B42C39000"},
		{"10860000457C438141047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D00",
			"7C43824104824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F5730D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C549000"},
		{"10860000457C438341042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB3646200",
			"7C438441049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F0949000"},
		{"008600000C7C0A8508C2B0BD78D94BA86600", "7C0A86083ABB9674BCE93C089000"},
	}
	if len(rec.steps) < len(want)+1 {
		t.Fatalf("only %d exchanges", len(rec.steps))
	}
	for i, w := range want {
		if rec.steps[i] != w {
			t.Errorf("exchange %d:\n got  %s -> %s\n want %s -> %s", i, rec.steps[i][0], rec.steps[i][1], w[0], w[1])
		}
	}
	// Then the application is selected under secure messaging.
	if next := rec.steps[len(want)][0]; !strings.HasPrefix(next, "0CA4040C") {
		t.Errorf("after PACE: %s", next)
	}
}
