package pcsc

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/icao"
	"github.com/guichet/guichet/eid/icao/pa"
	"github.com/guichet/guichet/eid/icao/pcsctest"
	"github.com/guichet/guichet/eid/icao/vcard"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pcsctest.StopShared()
	os.Exit(code)
}

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

// cscaFile writes the test CSCA as PEM and returns its path.
func cscaFile(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "csca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: testIssuer(t).CSCA.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// insert puts r in vpcd's slot until the test ends, then removes it.
func insert(t testing.TB, d *pcsctest.Daemon, slot int, r vcard.Responder) (remove func()) {
	waitCard(t, d, slot, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- vcard.Serve(ctx, d.VPCD(slot), r) }()
	var once sync.Once
	remove = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("virtual card: %v", err)
			}
			waitCard(t, d, slot, false)
		})
	}
	t.Cleanup(remove)
	return remove
}

func waitCard(t testing.TB, d *pcsctest.Daemon, slot int, present bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.WaitCard(ctx, slot, present); err != nil {
		t.Fatal(err)
	}
}

// open opens the driver through the registry, with options as the daemon
// would decode them from YAML.
func open(t testing.TB, opts map[string]any) cardreader.Reader {
	var n yaml.Node
	if err := n.Encode(opts); err != nil {
		t.Fatal(err)
	}
	r, err := cardreader.Drivers.Open(context.Background(), "pcsc", &n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

var specimen = cardreader.Access{DocumentNumber: "L898902C3", BirthDate: "740812", ExpiryDate: "340415"}

func read(t testing.TB, r cardreader.Reader, a cardreader.Access) (*cardreader.Card, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return r.ReadCard(ctx, a)
}

func TestReadCard(t *testing.T) {
	d := pcsctest.Shared(t)
	insert(t, d, 0, vcard.NewCard(issue(t), nil))
	r := open(t, map[string]any{"reader": d.Reader(0), "csca": cscaFile(t), "card_wait": "10s"})
	c, err := read(t, r, specimen)
	if err != nil {
		t.Fatal(err)
	}
	want := cardreader.Card{Kind: "icao9303", DocumentNumber: "L898902C3", IDNumber: "ZE184226B", Surname: "ERIKSSON", GivenNames: "ANNA MARIA",
		Name: "ANNA MARIA ERIKSSON", Sex: "F", Nationality: "UTO", BirthDate: "1974-08-12", ExpiryDate: "2034-04-15", Issuer: "UTO", PhotoFormat: "jpeg", Verified: true}
	got := *c
	got.Photo, got.ReadAt = nil, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("card =\n %+v\nwant\n %+v", got, want)
	}
	if !bytes.Equal(c.Photo, vcard.DemoPhoto) {
		t.Errorf("photo of %d bytes differs from the %d issued", len(c.Photo), len(vcard.DemoPhoto))
	}
	if time.Since(c.ReadAt) > time.Minute {
		t.Errorf("ReadAt %v", c.ReadAt)
	}
	// The same card reads again: the reset at the end of a read leaves it clean.
	if c, err = read(t, r, specimen); err != nil || !c.Verified {
		t.Fatalf("second read: %v", err)
	}
	// By index, without CSCA: read but not verified.
	r2 := open(t, map[string]any{"index": 0})
	if c, err = read(t, r2, specimen); err != nil || c.Verified {
		t.Fatalf("read without CSCA: verified=%v err=%v", c != nil && c.Verified, err)
	}
}

func TestReadCardFailures(t *testing.T) {
	d := pcsctest.Shared(t)
	csca := cscaFile(t)
	tests := []struct {
		name   string
		modify func(*vcard.Document)
		answer func(n int, cmd, resp []byte) []byte
		access cardreader.Access
		want   error
	}{
		{name: "wrong MRZ", access: cardreader.Access{DocumentNumber: "L898902C3", BirthDate: "740812", ExpiryDate: "340416"}, want: icao.ErrAccessDenied},
		{name: "tampered DG1", modify: func(doc *vcard.Document) { doc.Files[0x0101][30] ^= 0x02 }, want: pa.ErrHashMismatch},
		{name: "tampered DG2", modify: func(doc *vcard.Document) { doc.Files[0x0102][9000] ^= 0x40 }, want: pa.ErrHashMismatch},
		{name: "garbage answers", answer: func(n int, _, resp []byte) []byte {
			if n > 5 {
				return bytes.Repeat([]byte{0x5A}, 37)
			}
			return resp
		}, want: icao.ErrBadAnswer},
		{name: "not an ePassport", answer: func(n int, _, resp []byte) []byte { return []byte{0x6A, 0x82} }, want: icao.ErrNotEMRTD},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := issue(t)
			if tt.modify != nil {
				tt.modify(doc)
			}
			var resp vcard.Responder = vcard.NewCard(doc, nil)
			if tt.answer != nil {
				resp = &vcard.Intercept{Responder: resp, Func: tt.answer}
			}
			remove := insert(t, d, 0, resp)
			defer remove()
			r := open(t, map[string]any{"reader": "Virtual PCD 00 00", "csca": csca, "card_wait": "10s"})
			a := specimen
			if tt.access.DocumentNumber != "" {
				a = tt.access
			}
			_, err := read(t, r, a)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCardRemoved(t *testing.T) {
	d := pcsctest.Shared(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	card := &vcard.Intercept{Responder: vcard.NewCard(issue(t), nil), Func: func(n int, _, resp []byte) []byte {
		if n == 12 {
			cancel() // pulled out of the field in the middle of DG2
			time.Sleep(50 * time.Millisecond)
		}
		return resp
	}}
	waitCard(t, d, 1, false)
	go func() { done <- vcard.Serve(ctx, d.VPCD(1), card) }()
	defer func() { cancel(); <-done; waitCard(t, d, 1, false) }()
	r := open(t, map[string]any{"reader": d.Reader(1), "card_wait": "10s"})
	_, err := read(t, r, specimen)
	if !errors.Is(err, ErrCardRemoved) {
		t.Fatalf("error %v, want %v", err, ErrCardRemoved)
	}
}

func TestNoCardNoReader(t *testing.T) {
	d := pcsctest.Shared(t)
	r := open(t, map[string]any{"reader": d.Reader(1), "card_wait": "300ms"})
	if _, err := read(t, r, specimen); !errors.Is(err, ErrNoCard) {
		t.Errorf("empty slot: %v", err)
	}
	r = open(t, map[string]any{"reader": "Acme Reader"})
	if _, err := read(t, r, specimen); !errors.Is(err, ErrNoReader) {
		t.Errorf("unknown reader: %v", err)
	}
	r = open(t, map[string]any{"index": 7})
	if _, err := read(t, r, specimen); !errors.Is(err, ErrNoReader) {
		t.Errorf("index out of range: %v", err)
	}
	// Waiting without a bound ends with the context.
	r = open(t, map[string]any{"reader": d.Reader(1)})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := r.ReadCard(ctx, specimen); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled wait: %v", err)
	}
	if _, err := r.ReadCard(context.Background(), cardreader.Access{}); err == nil {
		t.Error("read without MRZ data")
	}
	var n yaml.Node
	n.Encode(map[string]any{"csca": "/nonexistent/csca.pem"})
	if _, err := cardreader.Drivers.Open(context.Background(), "pcsc", &n); err == nil {
		t.Error("opened with a missing CSCA file")
	}
}
