package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/codereader/scanner"
	"github.com/guichet/guichet/device/printer"
	"github.com/guichet/guichet/device/printer/escpos"
	"github.com/guichet/guichet/firmware-bridge/sam/samemu"
	"github.com/guichet/guichet/internal/escposemu"
	"github.com/guichet/guichet/internal/health"
	"github.com/guichet/guichet/internal/ptyserve"
	"github.com/guichet/guichet/sync/envelope"
)

// plug is a hot-pluggable serial device: a stable path (as udev's
// /dev/serial/by-id/... links) to whichever pseudo-terminal is plugged.
type plug struct {
	t    *testing.T
	path string
	pty  *ptyserve.PTY
}

func newPlug(t *testing.T) *plug {
	return &plug{t: t, path: filepath.Join(t.TempDir(), "usb-scanner")}
}

// in plugs a device served by serve.
func (p *plug) in(serve func(context.Context, io.ReadWriter) error) {
	p.t.Helper()
	pt, err := ptyserve.Start(context.Background(), serve)
	if err != nil {
		p.t.Fatal(err)
	}
	os.Remove(p.path)
	if err := os.Symlink(pt.Path, p.path); err != nil {
		p.t.Fatal(err)
	}
	p.pty = pt
	p.t.Cleanup(func() { pt.Close() })
}

// out pulls the device: its terminal closes and its path goes.
func (p *plug) out() {
	os.Remove(p.path)
	p.pty.Close()
}

// lineScanner is a serial scanner that sends each string it is given.
func lineScanner(lines <-chan string) func(context.Context, io.ReadWriter) error {
	return func(ctx context.Context, rw io.ReadWriter) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case l := <-lines:
				if _, err := rw.Write([]byte(l)); err != nil {
					return err
				}
			}
		}
	}
}

func state(b *health.Board, name string) envelope.HealthDevice {
	for _, d := range b.Devices() {
		if d.Name == name {
			return d
		}
	}
	return envelope.HealthDevice{}
}

// waitFor polls cond; the deadline only stops a test that would hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func quietSupervisor(b *health.Board) *supervisor {
	s := newSupervisor(b, slog.New(slog.DiscardHandler))
	s.minBackoff, s.maxBackoff = 20*time.Millisecond, 100*time.Millisecond
	return s
}

// A serial scanner pulled out marks the appliance degraded; plugged in
// again, it is reopened and reads codes without a restart. One that sends
// garbage is degraded until its next good code.
func TestScannerHotPlug(t *testing.T) {
	const name = "devices.code_readers[0]"
	p := newPlug(t)
	lines := make(chan string, 4)
	p.in(lineScanner(lines))
	var opts yaml.Node
	if err := yaml.Unmarshal([]byte("port: "+p.path+"\nbaud: 115200"), &opts); err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context) (codereader.Reader, error) {
		return codereader.Drivers.Open(ctx, "serial", opts.Content[0])
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := health.NewBoard()
	b.Add(name, "serial")
	changes := make(chan struct{}, 16)
	b.Notify(func() { changes <- struct{}{} })
	codes := make(chan codereader.Code, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		quietSupervisor(b).readCodes(ctx, name, r, open, func(c codereader.Code) { codes <- c })
	}()
	defer func() { cancel(); wg.Wait() }()

	lines <- "A-1\r\n"
	if c := <-codes; c.Text != "A-1" {
		t.Fatalf("code %+v", c)
	}
	p.out()
	waitFor(t, "degraded after the scanner left", func() bool { return state(b, name).State == envelope.DeviceDegraded })
	if d := state(b, name); d.Hint != hintGone || d.Errors == 0 {
		t.Fatalf("unplugged: %+v", d)
	}
	if got := b.Degraded(); len(got) != 1 || got[0] != name {
		t.Fatalf("degraded %v", got)
	}

	lines = make(chan string, 4)
	p.in(lineScanner(lines))
	waitFor(t, "ok after the scanner came back", func() bool { return state(b, name).State == envelope.DeviceOK })
	lines <- "B-2\r\n"
	if c := <-codes; c.Text != "B-2" {
		t.Fatalf("code after replug %+v", c)
	}

	// Garbage: a line longer than any code (a wrong baud rate reads as
	// noise without line ends), then a good code.
	lines <- strings.Repeat("\x7f~", scanner.MaxCode) + "\r\n"
	waitFor(t, "degraded by garbage", func() bool { return state(b, name).Hint == hintGarbage })
	lines <- "C-3\r\n"
	if c := <-codes; c.Text != "C-3" {
		t.Fatalf("code after garbage %+v", c)
	}
	if d := state(b, name); d.State != envelope.DeviceOK || d.Decoded != 3 {
		t.Fatalf("after a good code: %+v", d)
	}
	if len(changes) < 4 {
		t.Fatalf("%d state changes notified, want at least 4 (gone, back, garbage, ok)", len(changes))
	}
}

// A receipt printer switched off is degraded at the next status check
// and ok again at the first check after it is back; one that answers
// garbage is degraded with its own hint.
func TestPrinterHotPlug(t *testing.T) {
	const name = "devices.printer"
	p := newPlug(t)
	emu := escposemu.New()
	p.in(emu.Serve)
	ctx := context.Background()
	pr, err := escpos.Open(ctx, escpos.Options{Port: p.path, Baud: 115200, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	b := health.NewBoard()
	b.Add(name, "escpos")
	w := quietSupervisor(b).watchPrinter(name, pr)
	check := func(wantState, wantHint string) {
		t.Helper()
		w.check(ctx)
		if d := state(b, name); d.State != wantState || d.Hint != wantHint {
			t.Fatalf("printer %+v, want %s %q", d, wantState, wantHint)
		}
	}
	check(envelope.DeviceOK, "")
	emu.SetPaperOut(true)
	check(envelope.DeviceDegraded, hintPaper)
	emu.SetPaperOut(false)
	check(envelope.DeviceOK, "")

	p.out()
	check(envelope.DeviceDegraded, hintGone)
	check(envelope.DeviceDegraded, hintGone) // still away: the reopening fails

	// Garbage: something on the port that answers 0xff to everything.
	p.in(func(ctx context.Context, rw io.ReadWriter) error {
		f := rw.(*os.File) // pollable: a deadline lets ctx be checked
		buf := make([]byte, 64)
		for ctx.Err() == nil {
			f.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if n, _ := f.Read(buf); n > 0 {
				f.Write([]byte{0xff})
			}
		}
		return nil
	})
	check(envelope.DeviceDegraded, hintGarbage)
	p.out()

	emu = escposemu.New()
	p.in(emu.Serve)
	check(envelope.DeviceOK, "")
	// Printing goes through the watched printer.
	if err := w.Print(ctx, testSlip()); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.Wait(ctx, func(s escposemu.State) bool { return len(s.Slips) == 1 }); err != nil {
		t.Fatal(err)
	}
}

type failingPrinter struct{ err error }

func (f *failingPrinter) Print(context.Context, printer.Document) error { return f.err }
func (f *failingPrinter) OpenDrawer(context.Context) error              { return f.err }
func (f *failingPrinter) Close() error                                  { return nil }

// What a failed print or drawer pulse says of the printer.
func TestWatchedPrinterNotes(t *testing.T) {
	const name = "devices.printer"
	b := health.NewBoard()
	b.Add(name, "escpos")
	fp := &failingPrinter{}
	w := quietSupervisor(b).watchPrinter(name, fp)
	ctx := context.Background()
	for _, c := range []struct {
		err         error
		state, hint string
	}{
		{errors.New("escpos: /dev/ttyUSB0: input/output error"), envelope.DeviceDegraded, hintGone},
		{nil, envelope.DeviceOK, ""},
		{fmt.Errorf("wrapped: %w", escpos.ErrPaperOut), envelope.DeviceDegraded, hintPaper},
		{printer.ErrInvalid, envelope.DeviceDegraded, hintPaper}, // the document's fault: unchanged
		{nil, envelope.DeviceOK, ""},
		{printer.ErrInvalid, envelope.DeviceOK, ""},
	} {
		fp.err = c.err
		if err := w.Print(ctx, testSlip()); err != c.err {
			t.Fatalf("Print returned %v, want %v", err, c.err)
		}
		if d := state(b, name); d.State != c.state || d.Hint != c.hint {
			t.Fatalf("after %v: %+v, want %s %q", c.err, d, c.state, c.hint)
		}
		if err := w.OpenDrawer(ctx); err != c.err {
			t.Fatalf("OpenDrawer returned %v", err)
		}
	}
}

func testSlip() printer.Document {
	return printer.Document{Lines: []printer.Line{{Text: "test slip", Align: printer.Center}}}
}

// The SAM card reader answering garbage is degraded with its own hint,
// mute or pulled out it is degraded and opened again until it answers,
// and the flows' reader keeps working through the swap.
func TestCardReaderHotPlug(t *testing.T) {
	const name = "devices.card_reader"
	p := newPlug(t)
	emu := samemu.New()
	p.in(emu.Serve)
	var opts yaml.Node
	if err := yaml.Unmarshal([]byte("port: "+p.path+"\ntimeout: 300ms\nretries: 1\npoll_interval: 20ms"), &opts); err != nil {
		t.Fatal(err)
	}
	open := func(ctx context.Context) (cardreader.Reader, error) {
		return cardreader.Drivers.Open(ctx, "sam", opts.Content[0])
	}
	ctx := context.Background()
	r, err := open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := health.NewBoard()
	b.Add(name, "sam")
	w := quietSupervisor(b).watchCardReader(name, r, open)
	defer w.Close()
	check := func(wantState, wantHint string) {
		t.Helper()
		w.check(ctx)
		if d := state(b, name); d.State != wantState || d.Hint != wantHint {
			t.Fatalf("card reader %+v, want %s %q", d, wantState, wantHint)
		}
	}
	check(envelope.DeviceOK, "")

	emu.Inject(samemu.FaultCorruptChecksum, 0, 0)
	check(envelope.DeviceDegraded, hintGarbage)
	emu.ClearFaults()
	check(envelope.DeviceOK, "")

	emu.Inject(samemu.FaultSilent, 0, 0)
	check(envelope.DeviceDegraded, hintGone)
	emu.ClearFaults()
	check(envelope.DeviceOK, "") // opened again

	p.out()
	check(envelope.DeviceDegraded, hintGone)
	check(envelope.DeviceDegraded, hintGone) // still away
	if _, err := w.ReadCard(ctx, cardreader.Access{}); err == nil {
		t.Fatal("read a card with the reader away")
	}

	emu = samemu.New()
	if err := emu.SetCard(samemu.SampleText(), samemu.SamplePhoto()); err != nil {
		t.Fatal(err)
	}
	p.in(emu.Serve)
	check(envelope.DeviceOK, "")
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := w.ReadCard(rctx, cardreader.Access{})
	if err != nil || c.IDNumber == "" {
		t.Fatalf("card through the reader plugged back: %+v, %v", c, err)
	}
}
