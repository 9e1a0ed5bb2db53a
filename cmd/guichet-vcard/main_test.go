package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/icao"
)

// TestRunAnswersVPCD plays vpcd: the program must connect, give its ATR and
// answer a SELECT of the eMRTD application.
func TestRunAnswersVPCD(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	card := filepath.Join(dir, "card.yaml")
	os.WriteFile(card, []byte("document_number: X1234567\nsurname: Martin\ngiven_names: Claire Anne\nbirth_date: \"900101\"\nexpiry_date: \"300101\"\nsex: F\nissuer: FRA\n"), 0o644)
	csca := filepath.Join(dir, "csca.pem")
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--vpcd", l.Addr().String(), "--card", card, "--csca-out", csca}, &out, io.Discard)
	}()
	conn, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	send := func(b []byte) []byte {
		conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...))
		var h [2]byte
		if _, err := io.ReadFull(conn, h[:]); err != nil {
			t.Fatal(err)
		}
		r := make([]byte, binary.BigEndian.Uint16(h[:]))
		io.ReadFull(conn, r)
		return r
	}
	if atr := send([]byte{0x04}); len(atr) < 2 || atr[0] != 0x3B {
		t.Errorf("ATR %X", atr)
	}
	if r := send([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01}); !bytes.Equal(r, []byte{0x90, 0x00}) {
		t.Errorf("SELECT -> %X", r)
	}
	cancel()
	conn.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "--mrz X1234567,900101,300101 --csca "+csca) {
		t.Errorf("hint: %q", out.String())
	}
	if b, err := os.ReadFile(csca); err != nil || !bytes.HasPrefix(b, []byte("-----BEGIN CERTIFICATE")) {
		t.Errorf("CSCA file: %v", err)
	}
	if err := run(context.Background(), []string{"--mrz", "bad"}, io.Discard, io.Discard); err == nil {
		t.Error("bad --mrz accepted")
	}
}

// vpcdPeer plays vpcd over conn: an apdu.Transmitter to the program's card.
type vpcdPeer struct{ conn net.Conn }

func (p vpcdPeer) Transmit(_ context.Context, b []byte) ([]byte, error) {
	if _, err := p.conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)); err != nil {
		return nil, err
	}
	var h [2]byte
	if _, err := io.ReadFull(p.conn, h[:]); err != nil {
		return nil, err
	}
	r := make([]byte, binary.BigEndian.Uint16(h[:]))
	_, err := io.ReadFull(p.conn, r)
	return r, err
}

// startCard runs the program with args against a listener playing vpcd
// and returns the peer and a function that stops it and returns its output.
func startCard(t *testing.T, args ...string) (vpcdPeer, func() string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"--vpcd", l.Addr().String()}, args...), &out, io.Discard) }()
	conn, err := l.Accept()
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	return vpcdPeer{conn}, func() string {
		cancel()
		conn.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
}

// TestRunPACE reads the program's card over PACE with the CAN, the MRZ
// data, and other curves and key lengths; with --access bac the chip has
// no PACE, and with pace-only no BAC.
func TestRunPACE(t *testing.T) {
	mrz := cardreader.Access{DocumentNumber: "L898902C3", BirthDate: "740812", ExpiryDate: "340415"}
	for _, tt := range []struct {
		name       string
		args       []string
		access     cardreader.Access
		wantAccess string
		hint       string
		want       error
	}{
		{"default, CAN", nil, cardreader.Access{CAN: "123456"}, "PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1 with the CAN", "offers PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1 with the MRZ data or the CAN 123456, and BAC", nil},
		{"default, MRZ", nil, mrz, "PACE-ECDH-GM-AES-CBC-CMAC-128 brainpoolP256r1 with the MRZ", "", nil},
		{"own CAN, P-256, AES-256", []string{"--can", "424242", "--pace-curve", "P-256", "--pace-aes", "256"}, cardreader.Access{CAN: "424242"}, "PACE-ECDH-GM-AES-CBC-CMAC-256 NIST P-256 with the CAN", "CAN 424242", nil},
		{"BAC alone", []string{"--access", "bac"}, mrz, "BAC", "offers BAC alone", nil},
		{"BAC alone, CAN", []string{"--access", "bac"}, cardreader.Access{CAN: "123456"}, "", "", icao.ErrNeedMRZ},
		{"PACE alone, wrong CAN", []string{"--access", "pace-only"}, cardreader.Access{CAN: "123455"}, "", "and no BAC", icao.ErrWrongCAN},
	} {
		t.Run(tt.name, func(t *testing.T) {
			peer, stop := startCard(t, tt.args...)
			d, err := icao.ReadCard(context.Background(), peer, tt.access, icao.Options{SkipPhoto: true})
			out := stop()
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("error %v, want %v", err, tt.want)
				}
			} else if err != nil {
				t.Fatalf("read: %v", err)
			} else if d.Access != tt.wantAccess || d.MRZ.Surname != "ERIKSSON" {
				t.Fatalf("access %q, MRZ %+v", d.Access, d.MRZ)
			}
			if !strings.Contains(out, tt.hint) {
				t.Errorf("output %q does not say %q", out, tt.hint)
			}
		})
	}
	for _, bad := range [][]string{{"--access", "nfc"}, {"--can", "12A"}, {"--pace-curve", "secp256k1"}, {"--pace-aes", "512"}} {
		if err := run(context.Background(), bad, io.Discard, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
