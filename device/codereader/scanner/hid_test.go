package scanner

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/device/codereader"
)

// typed returns the input_event records a US-layout keyboard-wedge
// scanner writes for text followed by Enter: Shift around shifted
// characters, a SYN report after each key, as the kernel sends them.
func typed(t testing.TB, text string) []byte {
	t.Helper()
	var b []byte
	key := func(code uint16, v int32) {
		b = AppendEvent(b, InputEvent{Type: evKey, Code: code, Value: v})
		b = AppendEvent(b, InputEvent{Type: 0, Code: 0, Value: 0}) // EV_SYN SYN_REPORT
	}
	for i := 0; i < len(text); i++ {
		code, shift, ok := keyFor(text[i])
		if !ok {
			t.Fatalf("no key for %q", text[i])
		}
		if shift {
			key(keyLeftShift, 1)
		}
		key(code, 1)
		key(code, 0)
		if shift {
			key(keyLeftShift, 0)
		}
	}
	key(keyEnter, 1)
	key(keyEnter, 0)
	return b
}

func keyFor(c byte) (code uint16, shift, ok bool) {
	for k, v := range usKeys {
		if k >= 71 { // prefer the main block over the keypad
			continue
		}
		if v[0] == c {
			return k, false, true
		}
		if v[1] == c {
			return k, true, true
		}
	}
	return 0, false, false
}

func readAll(t *testing.T, h *HID, n int) []codereader.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []codereader.Code
	for range n {
		c, err := h.ReadCode(ctx)
		if err != nil {
			t.Fatalf("after %d codes: %v", len(out), err)
		}
		out = append(out, c)
	}
	return out
}

func TestHIDTypedCodes(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	h := NewHID(r, "till-scanner", false)
	defer h.Close()
	texts := []string{"134567890123456789", "Hello, World! ~`|\\", "https://pay.example/q?a=1&b=%20"}
	var stream []byte
	for _, s := range texts {
		stream = append(stream, typed(t, s)...)
	}
	done := make(chan error, 1)
	go func() {
		// Written in odd-sized pieces, as reads may split events.
		for len(stream) > 0 {
			n := min(len(stream), 37)
			if _, err := w.Write(stream[:n]); err != nil {
				done <- err
				return
			}
			stream = stream[n:]
		}
		done <- nil
	}()
	got := readAll(t, h, len(texts))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, c := range got {
		if c.Text != texts[i] || c.Format != "UNKNOWN" || c.Source != "till-scanner" || c.At.IsZero() {
			t.Errorf("code %d: %+v, want %q", i, c, texts[i])
		}
	}
	w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.ReadCode(ctx); err == nil || !strings.Contains(err.Error(), "device gone") {
		t.Fatalf("after the writer closed: %v", err)
	}
}

func TestKeys(t *testing.T) {
	press := func(code uint16) InputEvent { return InputEvent{Type: evKey, Code: code, Value: 1} }
	release := func(code uint16) InputEvent { return InputEvent{Type: evKey, Code: code, Value: 0} }
	cases := []struct {
		name   string
		events []InputEvent
		want   []string
	}{
		{"caps lock", []InputEvent{press(keyCapsLock), press(30), press(2), press(keyLeftShift), press(30), release(keyLeftShift), press(keyEnter)}, []string{"A1a"}},
		{"keypad and KP enter", []InputEvent{press(79), press(80), press(83), press(82), press(keyKPEnter)}, []string{"12.0"}},
		{"autorepeat counts, release does not", []InputEvent{press(2), {Type: evKey, Code: 2, Value: 2}, release(2), press(keyEnter)}, []string{"11"}},
		{"both shifts", []InputEvent{press(keyLeftShift), press(keyRightShift), release(keyLeftShift), press(30), release(keyRightShift), press(30), press(keyEnter)}, []string{"Aa"}},
		{"stray shift releases", []InputEvent{release(keyLeftShift), release(keyLeftShift), press(30), press(keyEnter)}, []string{"a"}},
		{"empty codes are skipped", []InputEvent{press(keyEnter), press(keyEnter), press(3), press(keyEnter)}, []string{"2"}},
		{"unknown keys and other event types", []InputEvent{press(200), {Type: 2, Code: 30, Value: 1}, {Type: 4, Code: 4, Value: 30}, press(4), press(keyEnter)}, []string{"3"}},
	}
	for _, c := range cases {
		var k Keys
		var got []string
		for _, e := range c.events {
			text, done, err := k.Event(e)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if done {
				got = append(got, text)
			}
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestKeysTooLong(t *testing.T) {
	var k Keys
	var errs int
	for range MaxCode + 100 {
		if _, _, err := k.Event(InputEvent{Type: evKey, Code: 2, Value: 1}); errors.Is(err, ErrTooLong) {
			errs++
		}
	}
	if _, done, _ := k.Event(InputEvent{Type: evKey, Code: keyEnter, Value: 1}); done {
		t.Fatal("an over-long code was reported")
	}
	if errs != 1 {
		t.Fatalf("%d ErrTooLong, want 1", errs)
	}
	for _, e := range []InputEvent{{Type: evKey, Code: 3, Value: 1}, {Type: evKey, Code: keyEnter, Value: 1}} {
		if text, done, _ := k.Event(e); done && text != "2" {
			t.Fatalf("next code %q, want \"2\"", text)
		}
	}
}

func TestHIDHostileStreams(t *testing.T) {
	junk := make([]byte, 10<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(rng.IntN(256))
	}
	cases := []struct {
		name   string
		stream []byte
	}{
		{"truncated event", typed(t, "12")[:EventSize*3+5]},
		{"10 MB of junk", junk},
		{"over-long code", bytes.Repeat(AppendEvent(nil, InputEvent{Type: evKey, Code: 2, Value: 1}), MaxCode+10)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := NewHID(bytes.NewReader(c.stream), "", false)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			codes, sawErr := 0, false
			for {
				code, err := h.ReadCode(ctx)
				if err != nil {
					if strings.Contains(err.Error(), "device gone") {
						break
					}
					if !errors.Is(err, ErrTooLong) {
						t.Fatalf("unexpected error %v", err)
					}
					sawErr = true
					continue
				}
				if len(code.Text) > MaxCode {
					t.Fatalf("code of %d bytes", len(code.Text))
				}
				codes++
			}
			if c.name == "over-long code" && (!sawErr || codes != 0) {
				t.Fatalf("over-long code: err %v, %d codes", sawErr, codes)
			}
			if c.name == "truncated event" && codes != 0 {
				t.Fatalf("truncated stream gave %d codes", codes)
			}
		})
	}
}

func TestHIDCancel(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	h := NewHID(r, "", false)
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := h.ReadCode(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	// The reader still works after a cancelled read.
	go w.Write(typed(t, "AFTER"))
	if got := readAll(t, h, 1); got[0].Text != "AFTER" {
		t.Fatalf("got %q", got[0].Text)
	}
}

func TestOpenHID(t *testing.T) {
	path := filepath.Join(t.TempDir(), "event-recording")
	if err := os.WriteFile(path, append(typed(t, "]E09780441014989"), typed(t, "x")...), 0o644); err != nil {
		t.Fatal(err)
	}
	// A recorded event stream in a file: no grab possible, so ask for none.
	cr, err := codereader.Drivers.Open(context.Background(), "hid", yamlOpts(t, "device: "+path+"\ngrab: false\naim: true"))
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Close()
	got := readAll(t, cr.(*HID), 2)
	if got[0].Format != "EAN_13" || got[0].Text != "9780441014989" || got[1].Text != "x" || got[1].Format != "UNKNOWN" {
		t.Fatalf("got %+v", got)
	}
	// Grabbing a file that is no input device fails, and says so.
	if _, err := OpenHID(HIDOptions{Device: path}); err == nil || !strings.Contains(err.Error(), "grab") {
		t.Fatalf("grab on a plain file: %v", err)
	}
	if _, err := OpenHID(HIDOptions{Device: "/dev/input/event-none"}); err == nil || !strings.Contains(err.Error(), "event-none") {
		t.Fatalf("missing device: %v", err)
	}
	if _, err := OpenHID(HIDOptions{}); err == nil {
		t.Fatal("no device: opened")
	}
}

func FuzzKeys(f *testing.F) {
	f.Add(typed(f, "134567890123456789"))
	f.Add(typed(f, "Hello!")[:EventSize*5+3])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h := NewHID(bytes.NewReader(b), "", true)
		for {
			c, err := h.ReadCode(context.Background())
			if err != nil {
				if errors.Is(err, ErrTooLong) {
					continue
				}
				return
			}
			if c.Text == "" && c.Format == "UNKNOWN" || len(c.Text) > MaxCode {
				t.Fatalf("bad code %+v", c)
			}
		}
	})
}
