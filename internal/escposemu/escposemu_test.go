package escposemu

import (
	"bytes"
	"errors"
	"image"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// gsk is GS ( k with its length computed, for a QR function.
func gsk(fn byte, p ...byte) []byte {
	n := len(p) + 2
	return append([]byte{0x1d, '(', 'k', byte(n), byte(n >> 8), '1', fn}, p...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// slip is a stream as a driver sends it: Chinese text, bold, size,
// alignment, a QR code, a cut and a drawer kick.
var slip = cat(
	[]byte("\x1b@\x1ba\x01\x1bE\x01\x1d!\x11"),
	[]byte("\x1c&"), []byte{0xd0, 0xa1, 0xb5, 0xea}, []byte("\x1c.\n"), // 小店
	[]byte("\x1ba\x00\x1bE\x00\x1d!\x00Total 12.34\n"),
	[]byte("\x1c&Caf\xa8\xa6\x1c.\n"), // Café, é in GB18030
	[]byte("\x1ba1"),
	gsk('A', '2', 0), gsk('C', 4), gsk('E', '1'), gsk('P', append([]byte("0"), "pay-42"...)...), gsk('Q', '0'),
	[]byte("\x1bd\x02\x1dVB\x00\x1bp\x00\x19\xfa"),
)

func TestParsesASlip(t *testing.T) {
	e := New()
	// Byte by byte: a command split across reads is the common case on
	// a serial line.
	for i := range slip {
		if _, err := e.Feed(slip[i : i+1]); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	if err := e.End(); err != nil {
		t.Fatal(err)
	}
	s := e.State()
	if len(s.Slips) != 1 || s.Slips[0].Cut != 66 || len(s.Pending.Items) != 0 {
		t.Fatalf("slips %+v pending %+v", s.Slips, s.Pending)
	}
	got := s.Slips[0].Lines()
	want := []string{"小店", "Total 12.34", "Café", "[QR pay-42]", "", ""}
	if len(got) != len(want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d %q, want %q", i, got[i], want[i])
		}
	}
	it := s.Slips[0].Items
	if !it[0].Bold || it[0].Width != 2 || it[0].Height != 2 || it[0].Align != Center || it[1].Bold || it[1].Width != 1 {
		t.Fatalf("modes %+v %+v", it[0], it[1])
	}
	if it[3].QRSize != 4 || it[3].QRLevel != 'M' || it[3].Align != Center {
		t.Fatalf("QR %+v", it[3])
	}
	if len(s.Kicks) != 1 || s.Kicks[0] != (Kick{Pin: 2, On: 50 * time.Millisecond, Off: 500 * time.Millisecond}) {
		t.Fatalf("kicks %+v", s.Kicks)
	}
}

func TestStatus(t *testing.T) {
	e := New()
	ask := []byte("\x10\x04\x01\x10\x04\x04")
	if r, err := e.Feed(ask); err != nil || !bytes.Equal(r, []byte{0x12, 0x12}) {
		t.Fatalf("ready: % x, %v", r, err)
	}
	e.SetPaperOut(true)
	e.Feed([]byte("\x1bp\x01\x10\x10"))
	if r, err := e.Feed(ask); err != nil || !bytes.Equal(r, []byte{0x16, 0x72}) {
		t.Fatalf("paper out, drawer open: % x, %v", r, err)
	}
}

// TestHostileStreams feeds what a broken or hostile driver could send:
// each must stop the emulator with the error named, never hang or panic.
func TestHostileStreams(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"unknown ESC", []byte("\x1bZ"), ErrUnknown},
		{"unknown GS", []byte("\x1dZ"), ErrUnknown},
		{"unknown FS", []byte("\x1cZ"), ErrUnknown},
		{"control byte", []byte("ab\x07"), ErrUnknown},
		{"DLE not EOT", []byte("\x10\x05\x01"), ErrUnknown},
		{"DLE EOT 9", []byte("\x10\x04\x09"), ErrUnknown},
		{"alignment 7", []byte("\x1ba\x07"), ErrParam},
		{"size bit 3", []byte("\x1d!\x08"), ErrParam},
		{"cut 7", []byte("\x1dV\x07"), ErrParam},
		{"kick pin 2 as byte 2", []byte("\x1bp\x02\x19\xfa"), ErrParam},
		{"high byte outside Chinese mode", []byte("Caf\xe9\n"), ErrText},
		{"not GB18030", []byte("\x1c&\xff\xff\n"), ErrText},
		{"lone lead byte", []byte("\x1c&\x81\n"), ErrText},
		{"four-byte sequence cut", []byte("\x1c&\x81\x30\x81\n"), ErrText},
		{"GS ( k length 0", []byte("\x1d(k\x00\x00"), ErrParam},
		{"GS ( k length 65535", []byte("\x1d(k\xff\xff1P0"), ErrParam},
		{"GS ( k not QR", gsk('A', '2', 0)[:5:5], nil}, // only the header: waits
		{"GS ( k symbol 50", append([]byte("\x1d(k\x03\x002"), 'C', 3), ErrUnknown},
		{"GS ( k function 82", gsk('R', '0'), ErrUnknown},
		{"QR model 3", gsk('A', '3', 0), ErrParam},
		{"QR size 0", gsk('C', 0), ErrParam},
		{"QR size 17", gsk('C', 17), ErrParam},
		{"QR level 4", gsk('E', '4'), ErrParam},
		{"QR size with two bytes", gsk('C', 3, 3), ErrParam},
		{"QR store empty", gsk('P', '0'), ErrParam},
		{"QR print nothing stored", gsk('Q', '0'), ErrParam},
		{"truncated ESC", []byte("\x1b"), ErrTruncated},
		{"truncated kick", []byte("\x1bp\x00\x19"), ErrTruncated},
		{"truncated QR store", gsk('P', '0', 'a', 'b')[:9], ErrTruncated},
		{"truncated cut B", []byte("\x1dVB"), ErrTruncated},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := New()
			_, err := e.Feed(c.in)
			if err == nil {
				err = e.End()
			}
			if c.want == nil {
				if e.State().Err == nil && err == nil {
					t.Fatalf("%q: an unfinished header ended the stream without error", c.in)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("%q: %v, want %v", c.in, err, c.want)
			}
			if _, again := e.Feed([]byte("x\n")); !errors.Is(again, c.want) {
				t.Fatalf("after the error: %v", again)
			}
		})
	}
}

// TestRender checks that the rendered slip's QR code decodes to its data
// and that text lines leave ink where they are.
func TestRender(t *testing.T) {
	e := New()
	if _, err := e.Feed(slip); err != nil {
		t.Fatal(err)
	}
	s := e.State().Slips[0]
	img, err := Render(s, Dots80)
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect.Dx() != Dots80+2*margin {
		t.Fatalf("width %d", img.Rect.Dx())
	}
	if got := decodeQR(t, img); got != "pay-42" {
		t.Fatalf("QR decodes to %q", got)
	}
	// The first line, 小店 at double size, is centred: ink in the middle
	// of its band, none at its edges.
	var mid, edge int
	for y := margin; y < margin+2*cellH; y++ {
		for x := 0; x < img.Rect.Dx(); x++ {
			if img.GrayAt(x, y).Y < 128 {
				if c := img.Rect.Dx() / 2; x > c-2*cellW*2 && x < c+2*cellW*2 {
					mid++
				} else {
					edge++
				}
			}
		}
	}
	if mid < 200 || edge != 0 {
		t.Fatalf("title: %d dots of ink in the middle, %d outside", mid, edge)
	}
	if _, err := Render(s, 3); err == nil {
		t.Fatal("paper 3 dots wide rendered")
	}
}

func decodeQR(t testing.TB, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("no QR code in the slip: %v", err)
	}
	return res.GetText()
}

// FuzzFeed feeds arbitrary streams, in two reads split anywhere: the
// emulator returns or errs, never panics or hangs, and an error sticks.
func FuzzFeed(f *testing.F) {
	f.Add(slip, 7)
	f.Add([]byte("\x1d(k\xff\xff1P0"), 3)
	f.Add([]byte("\x1c&\x81\x30\x81\x30\n"), 1)
	f.Add([]byte("\x10\x04\x01\x1bp0\x01\x01"), 2)
	f.Fuzz(func(t *testing.T, b []byte, cut int) {
		e := New()
		cut = min(max(cut, 0), len(b))
		_, err1 := e.Feed(b[:cut])
		_, err2 := e.Feed(b[cut:])
		end := e.End()
		if err1 != nil && !errors.Is(err2, err1) {
			t.Fatalf("error %v, then %v", err1, err2)
		}
		if (err1 != nil || err2 != nil) && end == nil {
			t.Fatal("error forgotten at the end")
		}
		for _, s := range e.State().Slips {
			s.Lines()
		}
	})
}
