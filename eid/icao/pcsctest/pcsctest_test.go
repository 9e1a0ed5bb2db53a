package pcsctest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/guichet/guichet/eid/icao/vcard"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

func TestVirtualCardThroughPCSCD(t *testing.T) {
	d := Shared(t)
	iss, err := vcard.NewIssuer("UT")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := vcard.Issue(vcard.Specimen, vcard.DemoPhoto, iss)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- vcard.Serve(ctx, d.VPCD(0), vcard.NewCard(doc, nil)) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	c, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	rs := []scard.ReaderState{{Reader: d.Reader(0), CurrentState: scard.StateUnaware}}
	deadline := time.Now().Add(10 * time.Second)
	for rs[0].EventState&scard.StatePresent == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("card never present: %s", d.Log())
		}
		rs[0].CurrentState = rs[0].EventState
		c.GetStatusChange(rs, time.Second)
	}
	card, err := c.Connect(d.Reader(0), scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		t.Fatal(err)
	}
	defer card.Disconnect(scard.ResetCard)
	resp, err := card.Transmit([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp) != "\x90\x00" {
		t.Fatalf("SELECT answered %X", resp)
	}
	st, err := card.Status()
	if err != nil {
		t.Fatal(err)
	}
	if string(st.Atr) != string(vcard.ATR) {
		t.Errorf("ATR %X, want %X", st.Atr, vcard.ATR)
	}
}
