package frame

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The status command (11 FF) as the protocol documents it, and the success
// reply 00 00 90: the length counts body and checksum, the checksum covers
// the length bytes.
func TestEncodeKnownFrames(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		{"11 FF", "AA AA AA 96 69 00 03 11 FF ED"},
		{"20 01", "AA AA AA 96 69 00 03 20 01 22"},
		{"20 02", "AA AA AA 96 69 00 03 20 02 21"},
		{"30 01", "AA AA AA 96 69 00 03 30 01 32"},
		{"00 00 90", "AA AA AA 96 69 00 04 00 00 90 94"},
	} {
		got := Encode(unhex(t, tc.body))
		if want := unhex(t, tc.want); !bytes.Equal(got, want) {
			t.Errorf("Encode(%s) = % X, want % X", tc.body, got, want)
		}
	}
}

func TestRoundTripSizes(t *testing.T) {
	for _, n := range []int{1, 2, 3, 255, 256, 1288, DefaultMaxBodyLen} {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(i * 7)
		}
		var d Decoder
		d.Write(Encode(body))
		got, err := d.Next()
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !bytes.Equal(got, body) {
			t.Fatalf("n=%d: body differs", n)
		}
		if d.Buffered() != 0 || d.Skipped != 0 {
			t.Fatalf("n=%d: buffered %d skipped %d after one frame", n, d.Buffered(), d.Skipped)
		}
	}
}

func TestEncodePanicsOnImpossibleBody(t *testing.T) {
	for _, n := range []int{0, MaxBodyLen + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Encode of %d bytes did not panic", n)
				}
			}()
			Encode(make([]byte, n))
		}()
	}
}

// decodeAll feeds in to a fresh decoder and collects bodies and errors.
func decodeAll(in []byte, max int) (bodies [][]byte, errs []error, d *Decoder) {
	d = &Decoder{MaxBodyLen: max}
	d.Write(in)
	for {
		b, err := d.Next()
		if errors.Is(err, ErrIncomplete) {
			return bodies, errs, d
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		bodies = append(bodies, b)
	}
}

func TestDecodeHostile(t *testing.T) {
	good := Encode([]byte{0x00, 0x00, 0x90})
	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 0xFF
	flipped := bytes.Clone(good)
	flipped[8] ^= 0x01
	junk := make([]byte, 10<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(rng.UintN(256))
	}
	// Bias the junk towards the preamble's bytes so the decoder has to work.
	for i := 0; i+5 < len(junk); i += 997 {
		copy(junk[i:], Preamble[:1+i%5])
	}

	for _, tc := range []struct {
		name       string
		in         []byte
		max        int
		wantBodies int
		wantErr    error // one error of this kind expected, nil for none
		wantBuffer bool  // bytes left waiting for more
	}{
		{name: "empty", in: nil},
		{name: "one frame", in: good, wantBodies: 1},
		{name: "two frames back to back", in: append(bytes.Clone(good), good...), wantBodies: 2},
		{name: "garbage before", in: append([]byte("\x00\xFF\xAA\xAA\x96garbage"), good...), wantBodies: 1},
		{name: "partial preamble before", in: append([]byte{0xAA, 0xAA, 0xAA, 0x96}, good...), wantBodies: 1},
		{name: "bad checksum", in: corrupt, wantErr: ErrChecksum},
		{name: "flipped body bit", in: flipped, wantErr: ErrChecksum},
		{name: "bad checksum then good", in: append(bytes.Clone(corrupt), good...), wantBodies: 1, wantErr: ErrChecksum},
		{name: "truncated header", in: good[:6], wantBuffer: true},
		{name: "truncated body", in: good[:9], wantBuffer: true},
		{name: "truncated checksum", in: good[:len(good)-1], wantBuffer: true},
		{name: "length zero", in: unhex(t, "AA AA AA 96 69 00 00 90 90"), wantErr: ErrTooShort},
		{name: "length one", in: unhex(t, "AA AA AA 96 69 00 01 01"), wantErr: ErrTooShort},
		{name: "over-long length", in: unhex(t, "AA AA AA 96 69 FF FF 00 00 90"), wantErr: ErrTooLong},
		{name: "over custom limit", in: Encode(make([]byte, 17)), max: 16, wantErr: ErrTooLong},
		{name: "over-long then good", in: append(unhex(t, "AA AA AA 96 69 40 00"), good...), wantBodies: 1, wantErr: ErrTooLong},
		{name: "10 MB junk then good", in: append(bytes.Clone(junk), good...), wantBodies: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bodies, errs, d := decodeAll(tc.in, tc.max)
			if tc.name != "10 MB junk then good" && len(bodies) != tc.wantBodies {
				t.Fatalf("got %d bodies, want %d (errors %v)", len(bodies), tc.wantBodies, errs)
			}
			if tc.name == "10 MB junk then good" {
				// Junk may hold accidental frames; the good one must come last.
				if len(bodies) == 0 || !bytes.Equal(bodies[len(bodies)-1], []byte{0, 0, 0x90}) {
					t.Fatalf("good frame after junk not found (%d bodies)", len(bodies))
				}
				return
			}
			for _, b := range bodies {
				if !bytes.Equal(b, []byte{0, 0, 0x90}) {
					t.Errorf("body % X", b)
				}
			}
			if tc.wantErr == nil && len(errs) > 0 {
				t.Fatalf("unexpected errors %v", errs)
			}
			if tc.wantErr != nil {
				if len(errs) == 0 || !errors.Is(errs[0], tc.wantErr) {
					t.Fatalf("errors %v, want %v", errs, tc.wantErr)
				}
				if errs[0].Error() == tc.wantErr.Error() {
					t.Errorf("error %q carries no detail", errs[0])
				}
			}
			if got := d.Buffered() > 0; got != tc.wantBuffer && !(tc.wantErr != nil) {
				t.Errorf("buffered %d bytes, want waiting=%v", d.Buffered(), tc.wantBuffer)
			}
		})
	}
}

func TestDecoderNeed(t *testing.T) {
	good := Encode(make([]byte, 100))
	var d Decoder
	if d.Need() != 1 {
		t.Fatalf("empty decoder needs %d", d.Need())
	}
	d.Write(good[:10])
	if got, want := d.Need(), len(good)-10; got != want {
		t.Fatalf("Need = %d, want %d", got, want)
	}
	d.Write(good[10:])
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
}

func TestReaderByteByByte(t *testing.T) {
	stream := append([]byte("noise"), Encode([]byte{1, 2, 3})...)
	stream = append(stream, Encode([]byte{4})...)
	r := NewReader(iotest.OneByteReader(bytes.NewReader(stream)), 0)
	for _, want := range [][]byte{{1, 2, 3}, {4}} {
		got, err := r.Next()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Next = % X, %v; want % X", got, err, want)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("at end: %v, want io.EOF", err)
	}
	if r.Skipped() != 5 {
		t.Errorf("Skipped = %d, want 5", r.Skipped())
	}
}

func TestReaderEndsInsideFrame(t *testing.T) {
	f := Encode([]byte{1, 2, 3})
	r := NewReader(bytes.NewReader(f[:len(f)-2]), 0)
	if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReaderPassesErrors(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(iotest.ErrReader(boom), 0)
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

// FuzzDecode feeds arbitrary bytes, in arbitrary cuts, to the decoder: it
// must never panic, every body it returns must re-encode to bytes present
// in the input, and cutting the input differently must not change the
// bodies found.
func FuzzDecode(f *testing.F) {
	f.Add(Encode([]byte{0, 0, 0x90}), uint8(1))
	f.Add(append([]byte{0xAA, 0xAA}, Encode([]byte{0x11, 0xFF})...), uint8(3))
	f.Add([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0xFF, 0xFF}, uint8(2))
	f.Add([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x00}, uint8(7))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		whole, _, _ := decodeAll(in, 0)
		for _, b := range whole {
			if !bytes.Contains(in, Encode(b)) {
				t.Fatalf("body % X not framed in input", b)
			}
		}
		step := int(cut)%16 + 1
		d := &Decoder{}
		var pieces [][]byte
		for i := 0; i < len(in); i += step {
			d.Write(in[i:min(i+step, len(in))])
			for {
				b, err := d.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err == nil {
					pieces = append(pieces, b)
				}
			}
		}
		if len(pieces) != len(whole) {
			t.Fatalf("cut by %d: %d bodies, whole: %d", step, len(pieces), len(whole))
		}
		for i := range whole {
			if !bytes.Equal(pieces[i], whole[i]) {
				t.Fatalf("cut by %d: body %d differs", step, i)
			}
		}
	})
}
