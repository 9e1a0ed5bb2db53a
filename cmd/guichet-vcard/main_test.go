package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
