package samemu

import (
	"bytes"
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/guichet/guichet/firmware-bridge/frame"
	"github.com/guichet/guichet/firmware-bridge/sam"
)

// line is the far side of the emulator's pseudo-terminal, opened as a raw
// file with deadlines, to talk to the emulator byte by byte.
type line struct {
	t   *testing.T
	f   *os.File
	dec frame.Decoder
}

func open(t *testing.T, e *Emulator) *line {
	t.Helper()
	p, err := e.ServePTY(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p.Path, os.O_RDWR|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Close()
		if err := p.Close(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &line{t: t, f: f}
}

func (l *line) send(b []byte) {
	l.t.Helper()
	if _, err := l.f.Write(b); err != nil {
		l.t.Fatal(err)
	}
}

func (l *line) cmd(c sam.Command) { l.send(frame.Encode([]byte{byte(c >> 8), byte(c)})) }

// raw reads whatever arrives within d.
func (l *line) raw(d time.Duration) []byte {
	l.t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(d)
	for {
		l.f.SetReadDeadline(deadline)
		n, err := l.f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out
		}
	}
}

// reply waits up to d for one frame and returns its body.
func (l *line) reply(d time.Duration) ([]byte, error) {
	l.t.Helper()
	buf := make([]byte, 4096)
	deadline := time.Now().Add(d)
	for {
		b, err := l.dec.Next()
		if !errors.Is(err, frame.ErrIncomplete) {
			return b, err
		}
		l.f.SetReadDeadline(deadline)
		n, err := l.f.Read(buf)
		l.dec.Write(buf[:n])
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

func (l *line) expect(c sam.Command, want sam.Status) []byte {
	l.t.Helper()
	l.cmd(c)
	b, err := l.reply(2 * time.Second)
	if err != nil {
		l.t.Fatalf("%s: %v", c, err)
	}
	if len(b) < 3 || sam.Status(b[2]) != want {
		l.t.Fatalf("%s: reply % X, want status %02X", c, b, byte(want))
	}
	return b[3:]
}

func TestStateMachine(t *testing.T) {
	e := New()
	l := open(t, e)
	l.expect(sam.CmdStatus, sam.StatusOK)
	l.expect(sam.CmdFindCard, sam.StatusNoCard)
	l.expect(sam.CmdSelectCard, sam.StatusSelectFailed)
	l.expect(sam.CmdReadBase, sam.StatusReadFailed)
	if err := e.SetCard(SampleText(), nil); err != nil {
		t.Fatal(err)
	}
	l.expect(sam.CmdSelectCard, sam.StatusSelectFailed) // no find yet
	l.expect(sam.CmdFindCard, sam.StatusFound)
	l.expect(sam.CmdSelectCard, sam.StatusOK)
	for range 2 { // the card stays selected: a read can be repeated
		d := l.expect(sam.CmdReadBase, sam.StatusOK)
		if len(d) != 4+sam.TextLen+sam.PhotoLen || !bytes.Equal(d[:4], []byte{0x01, 0x00, 0x04, 0x00}) {
			t.Fatalf("read data of %d bytes, lengths % X", len(d), d[:4])
		}
		tx, err := sam.ParseText(d[4 : 4+sam.TextLen])
		if err != nil || tx != SampleText() {
			t.Fatalf("text %+v, %v", tx, err)
		}
	}
	l.expect(sam.CmdReset, sam.StatusOK)
	l.expect(sam.CmdReadBase, sam.StatusReadFailed)
	l.expect(0x6001, sam.StatusCommand)
	if id := l.expect(sam.CmdSAMID, sam.StatusOK); len(id) == 0 {
		t.Fatal("empty SAM ID")
	}
	e.RemoveCard()
	l.expect(sam.CmdFindCard, sam.StatusNoCard)
	if n := e.Count(sam.CmdFindCard); n != 3 {
		t.Fatalf("Count(find) = %d", n)
	}
}

func TestBadRequests(t *testing.T) {
	l := open(t, New())
	bad := frame.Encode([]byte{0x11, 0xFF})
	bad[len(bad)-1] ^= 1
	l.send(bad)
	if b, err := l.reply(2 * time.Second); err != nil || !bytes.Equal(b, []byte{0, 0, byte(sam.StatusChecksum)}) {
		t.Fatalf("bad checksum: % X, %v", b, err)
	}
	l.send(frame.Encode([]byte{0x11})) // command without parameter
	if b, err := l.reply(2 * time.Second); err != nil || !bytes.Equal(b, []byte{0, 0, byte(sam.StatusLength)}) {
		t.Fatalf("short request: % X, %v", b, err)
	}
	l.send([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x00})
	if b, err := l.reply(2 * time.Second); err != nil || !bytes.Equal(b, []byte{0, 0, byte(sam.StatusLength)}) {
		t.Fatalf("zero length: % X, %v", b, err)
	}
	// Garbage before a request is skipped.
	l.send(append([]byte("line noise\xAA\xAA"), frame.Encode([]byte{0x11, 0xFF})...))
	if b, err := l.reply(2 * time.Second); err != nil || !bytes.Equal(b, []byte{0, 0, 0x90}) {
		t.Fatalf("after noise: % X, %v", b, err)
	}
}

func TestFaultsOnTheWire(t *testing.T) {
	ok := frame.Encode([]byte{0, 0, 0x90})
	for _, tc := range []struct {
		fault Fault
		check func(t *testing.T, got []byte)
	}{
		{FaultCorruptChecksum, func(t *testing.T, got []byte) {
			if len(got) != len(ok) || got[len(got)-1] == ok[len(ok)-1] || !bytes.Equal(got[:len(got)-1], ok[:len(ok)-1]) {
				t.Fatalf("% X", got)
			}
		}},
		{FaultShortReply, func(t *testing.T, got []byte) {
			if !bytes.Equal(got, frame.Encode([]byte{0, 0})) {
				t.Fatalf("% X", got)
			}
		}},
		{FaultTruncated, func(t *testing.T, got []byte) {
			if !bytes.Equal(got, ok[:len(ok)/2]) {
				t.Fatalf("% X", got)
			}
		}},
		{FaultGarbage, func(t *testing.T, got []byte) {
			if !bytes.HasSuffix(got, ok) || len(got) <= len(ok) {
				t.Fatalf("% X", got)
			}
		}},
		{FaultSilent, func(t *testing.T, got []byte) {
			if len(got) != 0 {
				t.Fatalf("% X", got)
			}
		}},
		{FaultSlow, func(t *testing.T, got []byte) {
			if !bytes.Equal(got, ok) {
				t.Fatalf("% X", got)
			}
		}},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			e := New()
			l := open(t, e)
			e.Inject(tc.fault, sam.CmdStatus, 1)
			l.cmd(sam.CmdStatus)
			tc.check(t, l.raw(300*time.Millisecond))
			// Used up: the next reply is clean.
			l.cmd(sam.CmdStatus)
			if got := l.raw(300 * time.Millisecond); !bytes.Equal(got, ok) {
				t.Fatalf("second reply % X", got)
			}
		})
	}
}

func TestFaultSelection(t *testing.T) {
	e := New()
	l := open(t, e)
	e.Inject(FaultSilent, sam.CmdFindCard, 0) // every find, nothing else
	l.cmd(sam.CmdFindCard)
	if got := l.raw(100 * time.Millisecond); len(got) != 0 {
		t.Fatalf("find answered % X", got)
	}
	l.expect(sam.CmdStatus, sam.StatusOK)
	l.cmd(sam.CmdFindCard)
	if got := l.raw(100 * time.Millisecond); len(got) != 0 {
		t.Fatalf("find answered % X the second time", got)
	}
	e.ClearFaults()
	l.expect(sam.CmdFindCard, sam.StatusNoCard)
}

func TestSlowBytesAreSpread(t *testing.T) {
	e := New()
	e.SetSlowByteDelay(10 * time.Millisecond)
	l := open(t, e)
	e.Inject(FaultSlow, 0, 1)
	start := time.Now()
	l.cmd(sam.CmdStatus)
	if _, err := l.reply(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 10*10*time.Millisecond {
		t.Fatalf("11 bytes 10 ms apart came in %v", d)
	}
}

func TestPacing(t *testing.T) {
	e := New()
	e.SetBaud(9600) // 1.04 ms a byte: measurable
	if err := e.SetCard(SampleText(), nil); err != nil {
		t.Fatal(err)
	}
	l := open(t, e)
	l.expect(sam.CmdFindCard, sam.StatusFound)
	l.expect(sam.CmdSelectCard, sam.StatusOK)
	start := time.Now()
	l.expect(sam.CmdReadBase, sam.StatusOK)
	// 10 bytes of request and 1295 of reply at 9600 baud.
	if d, want := time.Since(start), wireTime(10+1295, 9600); d < want {
		t.Fatalf("read took %v, under the wire time %v", d, want)
	}
}

func TestReadDelay(t *testing.T) {
	e := New()
	e.SetReadDelay(150 * time.Millisecond)
	e.SetCard(SampleText(), nil)
	l := open(t, e)
	l.expect(sam.CmdFindCard, sam.StatusFound)
	l.expect(sam.CmdSelectCard, sam.StatusOK)
	start := time.Now()
	l.expect(sam.CmdReadBase, sam.StatusOK)
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("read answered after %v", d)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	e := New()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := e.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still running after cancel")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestParseFault(t *testing.T) {
	for i, n := range faultNames {
		f, err := ParseFault(n)
		if err != nil || f != Fault(i) || f.String() != n {
			t.Errorf("%s: %v %v", n, f, err)
		}
	}
	if _, err := ParseFault("flaky"); err == nil {
		t.Error("unknown fault accepted")
	}
	if s := Fault(99).String(); s != "Fault(99)" {
		t.Error(s)
	}
}

func TestSetCardRejectsOverlongField(t *testing.T) {
	tx := SampleText()
	tx.Address = string(bytes.Repeat([]byte("a"), 36))
	if err := New().SetCard(tx, nil); err == nil {
		t.Fatal("36-character address accepted")
	}
}
