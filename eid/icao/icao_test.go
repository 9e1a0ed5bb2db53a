package icao

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/bac"
	"github.com/guichet/guichet/eid/icao/lds"
	"github.com/guichet/guichet/eid/icao/pa"
	"github.com/guichet/guichet/eid/icao/vcard"
)

var (
	issuerOnce sync.Once
	issuer     *vcard.Issuer
)

func testIssuer(t testing.TB) *vcard.Issuer {
	issuerOnce.Do(func() {
		var err error
		if issuer, err = vcard.NewIssuer("UT"); err != nil {
			t.Fatal(err)
		}
	})
	return issuer
}

func issue(t testing.TB) *vcard.Document {
	doc, err := vcard.Issue(vcard.Specimen, vcard.DemoPhoto, testIssuer(t))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// direct is the virtual card in-process, without pcscd.
func direct(r vcard.Responder) apdu.Transmitter {
	return apdu.TransmitFunc(func(_ context.Context, cmd []byte) ([]byte, error) { return r.Respond(cmd), nil })
}

func specimenKeys(t testing.TB) bac.Keys {
	k, err := bac.KeysFromMRZ("L898902C3", "740812", "340415")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestReadVirtualPassport(t *testing.T) {
	card := vcard.NewCard(issue(t), nil)
	pool := pa.NewPool(testIssuer(t).CSCA)
	d, err := Read(context.Background(), direct(card), specimenKeys(t), Options{CSCA: pool})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Verified || d.Unverified != nil {
		t.Errorf("not verified: %v", d.Unverified)
	}
	m := d.MRZ
	if m.Surname != "ERIKSSON" || m.GivenNames != "ANNA MARIA" || m.DocumentNumber != "L898902C3" || m.BirthDate != "740812" || m.ExpiryDate != "340415" || m.Sex != "F" || m.Nationality != "UTO" {
		t.Errorf("MRZ = %+v", m)
	}
	if d.Face == nil || d.Face.Format != lds.FormatJPEG || !bytes.Equal(d.Face.Data, vcard.DemoPhoto) || d.Face.Width != 276 {
		t.Errorf("face = %v", d.Face != nil)
	}

	// Without a CSCA the data is intact but its origin unknown.
	card.Reset()
	d, err = Read(context.Background(), direct(card), specimenKeys(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Verified || !errors.Is(d.Unverified, pa.ErrUntrusted) {
		t.Errorf("verified without CSCA: %v", d.Unverified)
	}
	// Another country's CSCA does not vouch for it either.
	other, _ := vcard.NewIssuer("XX")
	d, err = Read(context.Background(), direct(card), specimenKeys(t), Options{CSCA: pa.NewPool(other.CSCA), SkipPhoto: true})
	if err != nil || d.Verified || d.Face != nil {
		t.Errorf("foreign CSCA: verified=%v err=%v", d != nil && d.Verified, err)
	}
}

// recorder keeps the transcript of an exchange.
type recorder struct {
	t     apdu.Transmitter
	steps [][2]string
}

func (r *recorder) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	resp, err := r.t.Transmit(ctx, cmd)
	r.steps = append(r.steps, [2]string{strings.ToUpper(hex.EncodeToString(cmd)), strings.ToUpper(hex.EncodeToString(resp))})
	return resp, err
}

// TestWorkedExampleTranscript reads a virtual card holding the document of
// ICAO Doc 9303 Part 11 Appendix D with the appendix's nonces on both
// sides: the reader and the chip must exchange exactly the APDUs printed
// there, from GET CHALLENGE to the second READ BINARY of EF.COM.
func TestWorkedExampleTranscript(t *testing.T) {
	const td3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C<3UTO6908061F9406236ZE184226B<<<<<14"
	keys, _ := bac.KeysFromMRZ("L898902C", "690806", "940623")
	dg1 := lds.EncodeDG1(td3)
	sod, err := pa.Sign(testIssuer(t).DS, map[int][]byte{1: dg1})
	if err != nil {
		t.Fatal(err)
	}
	com, _ := hex.DecodeString("60145F0104303130365F36063034303030305C026175")
	doc := &vcard.Document{Keys: keys, Files: map[uint16][]byte{lds.FileCOM: com, lds.FileID(1): dg1, lds.FileSOD: lds.EncodeSOD(sod)}}
	chipRnd, _ := hex.DecodeString("4608F91988702212" + "0B4F80323EB3191CB04970CB4052790B")
	ifdRnd, _ := hex.DecodeString("781723860C06C226" + "0B795240CB7049B01C19B33E32804F0B")
	rec := &recorder{t: direct(vcard.NewCard(doc, bytes.NewReader(chipRnd)))}
	d, err := Read(context.Background(), rec, keys, Options{Rand: bytes.NewReader(ifdRnd), SkipPhoto: true, CSCA: pa.NewPool(testIssuer(t).CSCA)})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Verified || d.MRZ.DocumentNumber != "L898902C" {
		t.Errorf("document %+v verified %v", d.MRZ, d.Verified)
	}
	want := [][2]string{
		{"00A4040C07A0000002471001", "9000"},
		{"0084000008", "4608F919887022129000"},
		{"008200002872C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A728", "46B9342A41396CD7386BF5803104D7CEDC122B9132139BAF2EEDC94EE178534F2F2D235D074D74499000"},
		{"0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800", "990290008E08FA855A5D4C50A8ED9000"},
		{"0CB000000D9701048E08ED6705417E96BA5500", "8709019FF0EC34F9922651990290008E08AD55CC17140B2DED9000"},
		{"0CB000040D9701128E082EA28A70F3C7B53500", "871901FB9235F4E4037F2327DCC8964F1F9B8C30F42C8E2FFF224A990290008E08C8B2787EAEA07D749000"},
	}
	if len(rec.steps) < len(want) {
		t.Fatalf("only %d exchanges", len(rec.steps))
	}
	for i, w := range want {
		if rec.steps[i] != w {
			t.Errorf("exchange %d:\n got  %s -> %s\n want %s -> %s", i, rec.steps[i][0], rec.steps[i][1], w[0], w[1])
		}
	}
}

func TestReadFailures(t *testing.T) {
	junk := func(n int) []byte {
		b := make([]byte, n)
		r := rand.New(rand.NewPCG(uint64(n), 9))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	tamper := func(fid uint16, at int) func(*vcard.Document) {
		return func(d *vcard.Document) { d.Files[fid][at] ^= 0x01 }
	}
	tests := []struct {
		name   string
		modify func(*vcard.Document)
		answer func(n int, cmd, resp []byte) []byte
		keys   func() bac.Keys
		want   error
	}{
		{name: "wrong MRZ", keys: func() bac.Keys { k, _ := bac.KeysFromMRZ("L898902C3", "740813", "340415"); return k }, want: ErrAccessDenied},
		{name: "tampered DG1", modify: tamper(lds.FileID(1), 20), want: pa.ErrHashMismatch},
		{name: "tampered DG2 photo", modify: tamper(lds.FileID(2), 5000), want: pa.ErrHashMismatch},
		{name: "tampered SOD", modify: func(d *vcard.Document) { f := d.Files[lds.FileSOD]; f[len(f)-5] ^= 1 }, want: pa.ErrSignature},
		{name: "garbage after BAC", answer: func(n int, _, resp []byte) []byte {
			if n >= 6 {
				return junk(40)
			}
			return resp
		}, want: ErrBadAnswer},
		{name: "garbage challenge", answer: func(n int, _, resp []byte) []byte {
			if n == 2 {
				return append(junk(3), 0x90, 0x00)
			}
			return resp
		}, want: ErrBadAnswer},
		{name: "flipped MAC", answer: func(n int, _, resp []byte) []byte {
			if n == 9 {
				resp[len(resp)-3] ^= 0x80
			}
			return resp
		}, want: ErrBadAnswer},
		{name: "one-byte answers", answer: func(n int, _, resp []byte) []byte { return []byte{0x90} }, want: ErrBadAnswer},
		{name: "no eMRTD application", answer: func(n int, _, resp []byte) []byte {
			if n == 1 {
				return []byte{0x6A, 0x82}
			}
			return resp
		}, want: ErrNotEMRTD},
		{name: "huge file header", answer: nil, modify: func(d *vcard.Document) {
			d.Files[lds.FileID(2)] = append([]byte{0x75, 0x83, 0x01, 0x00, 0x00}, make([]byte, 100)...)
		}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := issue(t)
			if tt.modify != nil {
				tt.modify(doc)
			}
			var r vcard.Responder = vcard.NewCard(doc, nil)
			if tt.answer != nil {
				r = &vcard.Intercept{Responder: r, Func: tt.answer}
			}
			keys := specimenKeys(t)
			if tt.keys != nil {
				keys = tt.keys()
			}
			_, err := Read(context.Background(), direct(r), keys, Options{CSCA: pa.NewPool(testIssuer(t).CSCA)})
			if err == nil {
				t.Fatal("no error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestReadCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	card := vcard.NewCard(issue(t), nil)
	r := &vcard.Intercept{Responder: card, Func: func(n int, _, resp []byte) []byte {
		if n == 10 {
			cancel()
		}
		return resp
	}}
	if _, err := Read(ctx, direct(r), specimenKeys(t), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}
