package vcard

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/bac"
	"github.com/guichet/guichet/eid/icao/lds"
)

func TestHolderMRZ(t *testing.T) {
	h := Specimen
	h.ExpiryDate = "120415"
	z, err := h.MRZ()
	if err != nil {
		t.Fatal(err)
	}
	// The TD3 specimen of ICAO Doc 9303 Part 4.
	want := "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<" + "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
	if z != want {
		t.Errorf("MRZ\n %s\nwant\n %s", z, want)
	}
	for _, bad := range []Holder{{DocumentNumber: "TOOLONGNUMBER1", BirthDate: "740812", ExpiryDate: "120415"}, {DocumentNumber: "A1", BirthDate: "7408", ExpiryDate: "120415"}, {DocumentNumber: "a-1", BirthDate: "740812", ExpiryDate: "120415"}} {
		if _, err := bad.MRZ(); err == nil {
			t.Errorf("MRZ(%+v) accepted", bad)
		}
	}
}

func newCard(t testing.TB) *Card {
	iss, err := NewIssuer("UT")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Issue(Specimen, DemoPhoto, iss)
	if err != nil {
		t.Fatal(err)
	}
	return NewCard(doc, nil)
}

func hexs(b []byte) string { return hex.EncodeToString(b) }

func TestCardAccessRules(t *testing.T) {
	c := newCard(t)
	for _, tt := range []struct{ cmd, want string }{
		{"00A4040C07A0000002471001", "9000"},
		{"00A4020C02011E", "6982"}, // plain SELECT of a file needs BAC
		{"00B0000004", "6982"},
		{"0CB000000D9701048E08ED6705417E96BA5500", "6987"}, // SM without a session
		{"00A4040C07A0000002471002", "6a82"},
		{"80CA000000", "6e00"},
		{"00DA000000", "6d00"},
		{"0084000004", "6700"},
		{"00", "6700"},
		{"0082000028" + strings.Repeat("00", 40) + "28", "6300"}, // no challenge outstanding
	} {
		cmd, _ := hex.DecodeString(tt.cmd)
		if got := hexs(c.Respond(cmd)); got != tt.want && got != string(bytes.ToLower([]byte(tt.want))) {
			t.Errorf("%s -> %s, want %s", tt.cmd, got, tt.want)
		}
	}
}

func TestSessionAbortsOnError(t *testing.T) {
	c := newCard(t)
	c.Respond([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01})
	direct := apdu.TransmitFunc(func(_ context.Context, cmd []byte) ([]byte, error) { return c.Respond(cmd), nil })
	keys, _ := bac.KeysFromMRZ("L898902C3", "740812", "340415")
	s, err := bac.Authenticate(context.Background(), direct, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Protect(apdu.Command{INS: 0xA4, P1: 2, P2: 0x0C, Data: []byte{0x01, 0x01}})
	p[len(p)-2] ^= 1 // corrupt the MAC
	if got := hexs(c.Respond(p)); got != "6988" {
		t.Fatalf("corrupted MAC -> %s", got)
	}
	// The session is gone: a correctly protected command is now refused.
	p, _ = s.Protect(apdu.Command{INS: 0xA4, P1: 2, P2: 0x0C, Data: []byte{0x01, 0x01}})
	if got := hexs(c.Respond(p)); got != "6987" {
		t.Fatalf("after abort -> %s", got)
	}
}

func TestReadBinaryShortEF(t *testing.T) {
	c := newCard(t)
	c.Respond([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01})
	direct := apdu.TransmitFunc(func(_ context.Context, cmd []byte) ([]byte, error) { return c.Respond(cmd), nil })
	keys, _ := bac.KeysFromMRZ("L898902C3", "740812", "340415")
	s, err := bac.Authenticate(context.Background(), direct, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	// READ BINARY with short EF identifier 1E (EF.COM), past the end.
	p, _ := s.Protect(apdu.Command{INS: 0xB0, P1: 0x9E, P2: 0, Ne: 256})
	r, err := s.Unprotect(c.Respond(p))
	if err != nil {
		t.Fatal(err)
	}
	if r.SW != apdu.SWEndOfFile || !bytes.Equal(r.Data, lds.EncodeCOM(1, 2)) {
		t.Errorf("short EF read: %X %04X", r.Data, r.SW)
	}
}

// TestServeProtocol plays vpcd's side of the socket protocol.
func TestServeProtocol(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l.Addr().String(), newCard(t)) }()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	send := func(b []byte) {
		if _, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)); err != nil {
			t.Fatal(err)
		}
	}
	recv := func() []byte {
		var h [2]byte
		if _, err := io.ReadFull(conn, h[:]); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, binary.BigEndian.Uint16(h[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	send([]byte{ctrlPowerOn})
	send([]byte{ctrlATR})
	if got := recv(); !bytes.Equal(got, ATR) {
		t.Errorf("ATR %X", got)
	}
	send([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01})
	if got := recv(); !bytes.Equal(got, []byte{0x90, 0x00}) {
		t.Errorf("SELECT -> %X", got)
	}
	send([]byte{ctrlReset})
	send([]byte{0x00, 0x84, 0x00, 0x00, 0x08})
	if got := recv(); len(got) != 10 {
		t.Errorf("GET CHALLENGE -> %X", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

func FuzzRespond(f *testing.F) {
	for _, s := range []string{"00A4040C07A0000002471001", "0084000008", "0CB000000D9701048E08ED6705417E96BA5500", "00B09E0000", "0082000028"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	c := newCard(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		resp := c.Respond(b)
		if len(resp) < 2 {
			t.Fatalf("response %X without status word", resp)
		}
	})
}

func newPACECard(t testing.TB, noBAC bool) *Card {
	iss, err := NewIssuer("UT")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Issue(Specimen, DemoPhoto, iss)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.EnablePACE("123456"); err != nil {
		t.Fatal(err)
	}
	doc.NoBAC = noBAC
	return NewCard(doc, nil)
}

func TestPACECardAccessRules(t *testing.T) {
	c := newPACECard(t, true)
	ca := "31143012060a04007f0007020204020202010202010d"
	for _, tt := range []struct{ cmd, want string }{
		{"00B0000004", "6982"},                               // nothing selected, nothing to read in plain
		{"00A4020C02011C", "9000"},                           // EF.CardAccess, in plain, from the master file
		{"00B0000016", ca + "9000"},                          // read in plain
		{"00B09C0016", ca + "9000"},                          // by short identifier too
		{"00A4020C02011E", "6a82"},                           // no other file in the master file
		{"10860000027C0000", "6985"},                         // GENERAL AUTHENTICATE before MSE:Set AT
		{"0022C1A40F800A04007F00070202040202830103", "6a88"}, // PIN: not known to this chip
		{"0022C1A40F800A04007F00070202040202830102", "9000"}, // CAN
		{"10860000027C0000", ""},                             // the encrypted nonce
		{"00A4040C07A0000002471001", "9000"},                 // any other command ends the run
		{"10860000027C0000", "6985"},
		{"00A4020C02011C", "6982"}, // within the application, files need access control
		{"0084000008", "6d00"},     // BAC is refused by a PACE-only chip
		{"1084000008", "6e00"},     // chaining for GENERAL AUTHENTICATE alone
	} {
		cmd, _ := hex.DecodeString(tt.cmd)
		got := hexs(c.Respond(cmd))
		if tt.want == "" {
			if !strings.HasPrefix(got, "7c128010") || !strings.HasSuffix(got, "9000") {
				t.Errorf("%s -> %s, want the nonce", tt.cmd, got)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%s -> %s, want %s", tt.cmd, got, tt.want)
		}
	}
	// A BAC-only card has neither the file nor the commands.
	c = newCard(t)
	for _, tt := range []struct{ cmd, want string }{
		{"00A4020C02011C", "6a82"},
		{"0022C1A40F800A04007F00070202040202830101", "6d00"},
		{"10860000027C0000", "6d00"},
	} {
		cmd, _ := hex.DecodeString(tt.cmd)
		if got := hexs(c.Respond(cmd)); got != tt.want {
			t.Errorf("BAC-only: %s -> %s, want %s", tt.cmd, got, tt.want)
		}
	}
	if err := (&Document{Files: map[uint16][]byte{}}).EnablePACE(""); err == nil {
		t.Error("EnablePACE without an MRZ password")
	}
}

func FuzzRespondPACE(f *testing.F) {
	for _, s := range []string{"00A4020C02011C", "00B09C0000", "0022C1A412800A04007F0007020204020283010184010D", "10860000027C0000", "10860000457C43814104", "008600000C7C0A8508C2B0BD78D94BA86600"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	c := newPACECard(f, false)
	mse, _ := hex.DecodeString("0022C1A412800A04007F0007020204020283010184010D")
	ga1, _ := hex.DecodeString("10860000027C0000")
	f.Fuzz(func(t *testing.T, b []byte) {
		c.Reset()
		c.Respond(mse)
		c.Respond(ga1)
		if resp := c.Respond(b); len(resp) < 2 {
			t.Fatalf("response %X without status word", resp)
		}
	})
}
