package dfu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/guichet/guichet/firmware-bridge/manifest"
)

func TestFrameRoundTrip(t *testing.T) {
	var d Decoder
	payloads := [][]byte{nil, {0}, bytes.Repeat([]byte{0xA5, 0xC3}, 100), make([]byte, MaxPayload)}
	var stream []byte
	for i, p := range payloads {
		stream = AppendFrame(stream, CmdData, byte(i), p)
	}
	// Byte by byte, as a slow line delivers them.
	var got []Frame
	for _, c := range stream {
		d.Write([]byte{c})
		for {
			f, err := d.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, f)
		}
	}
	if len(got) != len(payloads) {
		t.Fatalf("%d frames, want %d", len(got), len(payloads))
	}
	for i, f := range got {
		if f.Type != CmdData || f.Seq != byte(i) || !bytes.Equal(f.Payload, payloads[i]) && len(payloads[i]) > 0 {
			t.Fatalf("frame %d: %v %d %d bytes", i, f.Type, f.Seq, len(f.Payload))
		}
	}
	if d.Skipped != 0 || d.Buffered() != 0 {
		t.Fatalf("skipped %d, buffered %d", d.Skipped, d.Buffered())
	}
	// The documented layout.
	f := AppendFrame(nil, CmdPing, 7, []byte{1, 2})
	want := []byte{0xA5, 0xC3, 0x06, 7, 2, 0, 1, 2}
	want = binary.LittleEndian.AppendUint32(want, crc32.ChecksumIEEE(want[2:]))
	if !bytes.Equal(f, want) {
		t.Fatalf("frame % x, want % x", f, want)
	}
}

func TestDecoderHostile(t *testing.T) {
	good := AppendFrame(nil, CmdInfo, 1, nil)
	badCRC := bytes.Clone(good)
	badCRC[len(badCRC)-1] ^= 1
	tooLong := []byte{0xA5, 0xC3, 0x03, 0, 0xFF, 0xFF}
	cases := []struct {
		name    string
		in      []byte
		errs    []error // errors before the good frame
		skipped bool
	}{
		{"garbage before", append([]byte("noise\xA5\xA5"), good...), nil, true},
		{"bad crc then good", append(bytes.Clone(badCRC), good...), []error{ErrCRC}, true},
		{"length too long then good", append(bytes.Clone(tooLong), good...), []error{ErrTooLong}, true},
		{"sync inside a bad frame", append([]byte{0xA5, 0xC3, 1, 1, 3, 0, 0xA5, 0xC3, 0, 0, 0, 0, 0}, good...), []error{ErrCRC}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Decoder
			d.Write(c.in)
			var errs []error
			for {
				f, err := d.Next()
				if errors.Is(err, ErrIncomplete) {
					t.Fatal("the good frame was lost")
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if f.Type != CmdInfo || f.Seq != 1 {
					t.Fatalf("frame %+v", f)
				}
				break
			}
			if len(errs) < len(c.errs) {
				t.Fatalf("errors %v, want %v", errs, c.errs)
			}
			for i, want := range c.errs {
				if !errors.Is(errs[i], want) {
					t.Fatalf("error %d: %v, want %v", i, errs[i], want)
				}
			}
			if c.skipped != (d.Skipped > 0) {
				t.Fatalf("skipped %d", d.Skipped)
			}
		})
	}
	// A huge length field does not make the decoder wait for 64 KiB.
	var d Decoder
	d.Write(tooLong)
	if _, err := d.Next(); !errors.Is(err, ErrTooLong) {
		t.Fatalf("too long: %v", err)
	}
}

func TestParseReplies(t *testing.T) {
	info := Info{Protocol: 1, Mode: ModeApplication, Image: ImageTest, Slot: 1, Upload: UploadReceiving, MaxChunk: 1024,
		SlotSize: 1 << 20, Counter: 3, Received: 10, UploadSize: 20, Version: manifest.Version{Major: 1, Minor: 2, Patch: 3},
		Class: "sam-v2", Digest: [32]byte{1, 2, 3}}
	b := AppendInfo(nil, info)
	if len(b) != InfoLen {
		t.Fatalf("INFO of %d bytes, want %d", len(b), InfoLen)
	}
	if got, err := ParseInfo(b); err != nil || got != info {
		t.Fatalf("ParseInfo = %+v, %v", got, err)
	}
	pong := Pong{Image: ImageConfirmed, Version: manifest.Version{Major: 4}, Digest: [32]byte{9}}
	if got, err := ParsePong(AppendPong(nil, pong)); err != nil || got != pong {
		t.Fatalf("ParsePong = %+v, %v", got, err)
	}
	mod := func(i int, v byte) []byte { c := bytes.Clone(b); c[i] = v; return c }
	hostileInfo := map[string][]byte{
		"empty":            nil,
		"short":            b[:InfoLen-1],
		"long":             append(bytes.Clone(b), 0),
		"mode":             mod(2, 7),
		"image state":      mod(3, 3),
		"slot":             mod(4, 2),
		"upload state":     mod(5, 4),
		"max chunk 0":      func() []byte { c := bytes.Clone(b); c[6], c[7] = 0, 0; return c }(),
		"received > size":  func() []byte { c := bytes.Clone(b); c[16] = 30; return c }(),
		"class characters": mod(28, 'A'),
		"status with data": mod(0, byte(StatusState)),
	}
	for name, p := range hostileInfo {
		if got, err := ParseInfo(p); err == nil {
			t.Errorf("ParseInfo(%s) = %+v, want an error", name, got)
		}
	}
	if _, err := ParseInfo([]byte{byte(StatusState)}); !errors.Is(err, StatusState) {
		t.Errorf("INFO refusal: %v", err)
	}
	for name, p := range map[string][]byte{"empty": nil, "short": AppendPong(nil, pong)[:10], "state none": append([]byte{0, 0}, make([]byte, 36)...)} {
		if got, err := ParsePong(p); err == nil {
			t.Errorf("ParsePong(%s) = %+v, want an error", name, got)
		}
	}
	if _, err := ParsePong([]byte{byte(StatusNoImage)}); !errors.Is(err, StatusNoImage) {
		t.Errorf("PING refusal: %v", err)
	}
	if n, err := ParseOffset(AppendOffset(nil, StatusOffset, 77)); n != 77 || !errors.Is(err, StatusOffset) {
		t.Errorf("offset refusal: %d %v", n, err)
	}
	for _, p := range [][]byte{nil, {0}, {0, 1, 2, 3}, {0, 1, 2, 3, 4, 5}} {
		if _, err := ParseOffset(p); !errors.Is(err, ErrReply) {
			t.Errorf("ParseOffset(% x): %v, want ErrReply", p, err)
		}
	}
	if _, _, err := ParseData([]byte{1, 2, 3, 4}); err == nil {
		t.Error("DATA without a byte accepted")
	}
}

// FuzzDecoder feeds arbitrary bytes: the decoder never panics, never
// returns a payload over MaxPayload, and a good frame after the junk is
// still found.
func FuzzDecoder(f *testing.F) {
	f.Add(AppendFrame(nil, CmdData, 1, []byte{0, 0, 0, 0, 1}))
	f.Add([]byte{0xA5, 0xC3, 0x03, 0, 0xFF, 0xFF})
	f.Add([]byte{0xA5, 0xA5, 0xC3})
	good := AppendFrame(nil, CmdPing, 0x42, []byte("ok"))
	f.Fuzz(func(t *testing.T, junk []byte) {
		var d Decoder
		d.Write(junk)
		// Enough bytes to finish any frame the junk began, then a good one.
		d.Write(make([]byte, MaxPayload+Overhead))
		d.Write(good)
		found := false
		for {
			fr, err := d.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err != nil {
				continue
			}
			if len(fr.Payload) > MaxPayload {
				t.Fatalf("payload of %d bytes", len(fr.Payload))
			}
			if fr.Type == CmdPing && fr.Seq == 0x42 && string(fr.Payload) == "ok" {
				found = true
			}
		}
		if !found {
			t.Fatal("the good frame after the junk was lost")
		}
	})
}

// FuzzReplies feeds arbitrary reply payloads to the host's parsers: no
// panic, and what is accepted re-encodes to the same bytes.
func FuzzReplies(f *testing.F) {
	f.Add(AppendInfo(nil, Info{Protocol: 1, MaxChunk: 1, Slot: 0xFF}))
	f.Add(AppendPong(nil, Pong{Image: ImageTest}))
	f.Add(AppendOffset(nil, StatusOK, 5))
	f.Fuzz(func(t *testing.T, p []byte) {
		if i, err := ParseInfo(p); err == nil {
			if b := AppendInfo(nil, i); !bytes.Equal(b[:28], p[:28]) || !bytes.Equal(b[44:], p[44:]) {
				t.Fatalf("INFO % x re-encodes to % x", p, b)
			}
		}
		if r, err := ParsePong(p); err == nil && !bytes.Equal(AppendPong(nil, r), p) {
			t.Fatalf("PING reply % x re-encodes differently", p)
		}
		if n, err := ParseOffset(p); err == nil && !bytes.Equal(AppendOffset(nil, StatusOK, n), p) {
			t.Fatalf("offset reply % x re-encodes differently", p)
		}
		ParseData(p)
		ParseStatus(p)
	})
}
