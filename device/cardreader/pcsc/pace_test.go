package pcsc

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/icao"
	"github.com/guichet/guichet/eid/icao/pace"
	"github.com/guichet/guichet/eid/icao/pcsctest"
	"github.com/guichet/guichet/eid/icao/vcard"
)

// issuePACE issues the specimen offering PACE (and BAC) with CAN 123456.
func issuePACE(t testing.TB, infos ...pace.Info) *vcard.Document {
	doc := issue(t)
	if err := doc.EnablePACE("123456", infos...); err != nil {
		t.Fatal(err)
	}
	return doc
}

// paceWatch wraps a virtual card and records whether a PACE run ended
// with the chip's token, and whether BAC was tried, from the commands.
type paceWatch struct {
	mu        sync.Mutex
	paceDone  bool
	bacTried  bool
	responder vcard.Responder
}

func (w *paceWatch) card() vcard.Responder {
	return &vcard.Intercept{Responder: w.responder, Func: func(_ int, cmd, resp []byte) []byte {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(cmd) > 1 && cmd[0] == 0x00 && cmd[1] == 0x86 && len(resp) > 2 && resp[len(resp)-2] == 0x90 {
			w.paceDone = true
		}
		if len(cmd) > 1 && cmd[0] == 0x00 && cmd[1] == 0x84 {
			w.bacTried = true
		}
		return resp
	}}
}

func (w *paceWatch) state() (paceDone, bacTried bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	d, b := w.paceDone, w.bacTried
	w.paceDone, w.bacTried = false, false
	return d, b
}

// TestReadCardPACE reads a chip offering PACE through pcscd and vpcd:
// with the MRZ data, with the CAN alone, and with both; a wrong CAN alone
// is refused with a clear error, a wrong CAN with the MRZ data falls back
// to BAC.
func TestReadCardPACE(t *testing.T) {
	d := pcsctest.Shared(t)
	w := &paceWatch{responder: vcard.NewCard(issuePACE(t), nil)}
	insert(t, d, 0, w.card())
	r := open(t, map[string]any{"reader": d.Reader(0), "csca": cscaFile(t), "card_wait": "10s"})
	want := cardreader.Card{Kind: "icao9303", DocumentNumber: "L898902C3", IDNumber: "ZE184226B", Surname: "ERIKSSON", GivenNames: "ANNA MARIA",
		Name: "ANNA MARIA ERIKSSON", Sex: "F", Nationality: "UTO", BirthDate: "1974-08-12", ExpiryDate: "2034-04-15", Issuer: "UTO", PhotoFormat: "jpeg", Verified: true}
	withCAN := specimen
	withCAN.CAN = "123456"
	wrongCAN := specimen
	wrongCAN.CAN = "123465"
	for _, tt := range []struct {
		name     string
		access   cardreader.Access
		pace     bool
		bacTried bool
	}{
		{"MRZ", specimen, true, false},
		{"CAN", cardreader.Access{CAN: "123456"}, true, false},
		{"MRZ and CAN", withCAN, true, false},
		{"MRZ and a wrong CAN", wrongCAN, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := read(t, r, tt.access)
			if err != nil {
				t.Fatal(err)
			}
			got := *c
			got.Photo, got.ReadAt = nil, time.Time{}
			if !reflect.DeepEqual(got, want) || len(c.Photo) != len(vcard.DemoPhoto) {
				t.Errorf("card =\n %+v\nwant\n %+v", got, want)
			}
			paceDone, bacTried := w.state()
			if paceDone != tt.pace || bacTried != tt.bacTried {
				t.Errorf("PACE done %v, BAC tried %v; want %v, %v", paceDone, bacTried, tt.pace, tt.bacTried)
			}
		})
	}
	t.Run("wrong CAN alone", func(t *testing.T) {
		_, err := read(t, r, cardreader.Access{CAN: "654321"})
		if !errors.Is(err, icao.ErrWrongCAN) || !errors.Is(err, icao.ErrAccessDenied) || !strings.Contains(err.Error(), "wrong CAN?") {
			t.Fatalf("error %v, want %v", err, icao.ErrWrongCAN)
		}
		if _, bacTried := w.state(); bacTried {
			t.Error("BAC tried without MRZ data")
		}
		// The card is left clean: the right CAN reads it next.
		if _, err := read(t, r, cardreader.Access{CAN: "123456"}); err != nil {
			t.Fatalf("after a wrong CAN: %v", err)
		}
	})
	t.Run("bad CAN typed", func(t *testing.T) {
		if _, err := read(t, r, cardreader.Access{CAN: "12 34"}); err == nil || !strings.Contains(err.Error(), "not digits") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestReadCardPACEFailures(t *testing.T) {
	d := pcsctest.Shared(t)
	for _, tt := range []struct {
		name   string
		doc    func(testing.TB) *vcard.Document
		answer func(n int, cmd, resp []byte) []byte
		access cardreader.Access
		want   error
	}{
		{name: "CAN on a chip with BAC alone", doc: issue, access: cardreader.Access{CAN: "123456"}, want: icao.ErrNeedMRZ},
		{name: "wrong MRZ on a chip with PACE", doc: func(t testing.TB) *vcard.Document { return issuePACE(t) },
			access: cardreader.Access{DocumentNumber: "L898902C3", BirthDate: "740812", ExpiryDate: "340416"}, want: icao.ErrAccessDenied},
		{name: "chip's token altered, CAN alone", doc: func(t testing.TB) *vcard.Document { return issuePACE(t) }, access: cardreader.Access{CAN: "123456"},
			answer: func(_ int, cmd, resp []byte) []byte {
				if len(cmd) > 1 && cmd[0] == 0x00 && cmd[1] == 0x86 && len(resp) > 3 {
					resp[len(resp)-3] ^= 1
				}
				return resp
			}, want: icao.ErrBadAnswer},
		{name: "P-256 and AES-256", doc: func(t testing.TB) *vcard.Document {
			return issuePACE(t, pace.Info{Protocol: pace.ECDHGMAES256, Version: 2, ParameterID: pace.ParamP256})
		}, access: cardreader.Access{CAN: "123456"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var resp vcard.Responder = vcard.NewCard(tt.doc(t), nil)
			if tt.answer != nil {
				resp = &vcard.Intercept{Responder: resp, Func: tt.answer}
			}
			remove := insert(t, d, 0, resp)
			defer remove()
			r := open(t, map[string]any{"reader": d.Reader(0), "card_wait": "10s"})
			_, err := read(t, r, tt.access)
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}
