package apdu

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"testing"
)

func TestCommandCases(t *testing.T) {
	tests := []struct {
		c    Command
		want string
	}{
		{Command{INS: 0xA4, P1: 0x04, P2: 0x0C, Data: []byte{0xA0, 0, 0, 2, 0x47, 0x10, 0x01}}, "00A4040C07A0000002471001"},
		{Command{INS: 0x84, Ne: 8}, "0084000008"},
		{Command{INS: 0xB0, Ne: 256}, "00B0000000"},
		{Command{CLA: 0x0C, INS: 0x82, Data: []byte{1, 2}, Ne: 0x28}, "0C8200000201022" + "8"},
		{Command{INS: 0x44}, "00440000"},
	}
	for _, tt := range tests {
		b, err := tt.c.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b); got != tt.want && got != string(bytes.ToLower([]byte(tt.want))) {
			t.Errorf("Bytes = %s, want %s", got, tt.want)
		}
		back, err := ParseCommand(b)
		if err != nil {
			t.Fatal(err)
		}
		if back.CLA != tt.c.CLA || back.INS != tt.c.INS || back.Ne != tt.c.Ne || !bytes.Equal(back.Data, tt.c.Data) {
			t.Errorf("ParseCommand(%X) = %+v, want %+v", b, back, tt.c)
		}
	}
	if _, err := (Command{Data: make([]byte, 256)}).Bytes(); err == nil {
		t.Error("256 data bytes encoded in short form")
	}
	if _, err := (Command{Ne: 257}).Bytes(); err == nil {
		t.Error("Ne 257 encoded in short form")
	}
}

func TestParseHostile(t *testing.T) {
	for _, b := range [][]byte{nil, {0}, {0, 0xA4, 0}, {0, 0xA4, 0, 0, 5, 1, 2}, {0, 0xB0, 0, 0, 0, 0x10, 0}, {0, 0xA4, 0, 0, 1, 1, 0, 0}, make([]byte, 10<<20)} {
		if _, err := ParseCommand(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCommand(% X...) = %v", b[:min(len(b), 8)], err)
		}
	}
	if _, err := ParseResponse([]byte{0x90}); !errors.Is(err, ErrMalformed) {
		t.Error("one-byte response accepted")
	}
	r, err := ParseResponse([]byte{1, 2, 0x90, 0x00})
	if err != nil || r.SW != SWOK || !bytes.Equal(r.Data, []byte{1, 2}) || !bytes.Equal(r.Bytes(), []byte{1, 2, 0x90, 0}) {
		t.Errorf("ParseResponse = %+v %v", r, err)
	}
}

// script answers each command with the next recorded response and checks
// that the command is the recorded one.
type script struct {
	t     *testing.T
	steps [][2]string
}

func (s *script) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	if len(s.steps) == 0 {
		s.t.Fatalf("unexpected command %X", cmd)
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	want, _ := hex.DecodeString(st[0])
	if !bytes.Equal(cmd, want) {
		s.t.Fatalf("command %X, want %X", cmd, want)
	}
	return hex.DecodeString(st[1])
}

func TestSendTransportRules(t *testing.T) {
	s := &script{t: t, steps: [][2]string{
		{"00B0000008", "6C04"},
		{"00B0000004", "AABB6102"},
		{"00C0000002", "CCDD9000"},
	}}
	r, err := Send(context.Background(), s, Command{INS: 0xB0, Ne: 8})
	if err != nil {
		t.Fatal(err)
	}
	if r.SW != SWOK || hex.EncodeToString(r.Data) != "aabbccdd" || len(s.steps) != 0 {
		t.Errorf("Send = %X %04X, %d steps left", r.Data, r.SW, len(s.steps))
	}
	endless := TransmitFunc(func(context.Context, []byte) ([]byte, error) { return []byte{1, 0x61, 0x01}, nil })
	if _, err := Send(context.Background(), endless, Command{INS: 0xB0, Ne: 1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("endless chain: %v", err)
	}
	se := &StatusError{Op: "select", SW: 0x6A82}
	if se.Error() != "select: card answered 6A82 (file not found)" {
		t.Errorf("StatusError = %q", se.Error())
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"00A4040C07A0000002471001", "0084000008", "00B0000000", "0CB000000D9701048E08ED6705417E96BA5500", "00"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCommand(b)
		if err != nil {
			return
		}
		re, err := c.Bytes()
		if err != nil {
			t.Fatalf("parsed command does not encode: %v", err)
		}
		if !bytes.Equal(re, b) {
			t.Fatalf("re-encoded %X, parsed from %X", re, b)
		}
	})
}
