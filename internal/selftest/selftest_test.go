package selftest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guichet/guichet/device/cardreader"
	cardsim "github.com/guichet/guichet/device/cardreader/sim"
	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/display"
	displaysim "github.com/guichet/guichet/device/display/sim"
	"github.com/guichet/guichet/device/gpio"
	gpiosim "github.com/guichet/guichet/device/gpio/sim"
	"github.com/guichet/guichet/device/printer"
	"github.com/guichet/guichet/device/printer/escpos"
	printersim "github.com/guichet/guichet/device/printer/sim"
	"github.com/guichet/guichet/internal/escposemu"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

func run1(t *testing.T, c Check) Result {
	t.Helper()
	rep := Run(context.Background(), []Check{c})
	r := rep.Results[0]
	if r.Name != c.Name {
		t.Errorf("result named %q, want %q", r.Name, c.Name)
	}
	return r
}

func wantStatus(t *testing.T, r Result, s Status, detail string) {
	t.Helper()
	if r.Status != s || !strings.Contains(r.Detail, detail) {
		t.Fatalf("%s: %s %q, want %s with %q", r.Name, r.Status, r.Detail, s, detail)
	}
	if s == Fail && r.Hint == "" {
		t.Errorf("%s: failure without a hint", r.Name)
	}
}

func TestRunLanesTimeoutPanicAndOrder(t *testing.T) {
	var inLane atomic.Int32
	lane := func(name string) Check {
		return Check{Name: name, Lane: "printer", Run: func(ctx context.Context) Result {
			if inLane.Add(1) != 1 {
				return Failed(errors.New("two checks of a lane at once"), "bug")
			}
			time.Sleep(20 * time.Millisecond)
			inLane.Add(-1)
			return Passed("ok")
		}}
	}
	checks := []Check{
		lane("printer"), lane("drawer"),
		{Name: "hangs", Timeout: 50 * time.Millisecond, Run: func(ctx context.Context) Result { <-ctx.Done(); return Passed("late") }},
		{Name: "crashes", Run: func(context.Context) Result { panic("boom") }},
		{Name: "absent", Run: func(context.Context) Result { return Skipped("not configured") }},
	}
	rep := Run(context.Background(), checks)
	var got []string
	for _, r := range rep.Results {
		got = append(got, r.Name+"="+string(r.Status))
	}
	if want := "printer=pass drawer=pass hangs=fail crashes=fail absent=skip"; strings.Join(got, " ") != want {
		t.Fatalf("results %q, want %q", got, want)
	}
	if rep.Failed != 2 || rep.OK() {
		t.Errorf("failed %d, OK %v", rep.Failed, rep.OK())
	}
	if !strings.Contains(rep.Results[2].Detail, "no answer within 50ms") || !strings.Contains(rep.Results[3].Detail, "boom") {
		t.Errorf("details %q, %q", rep.Results[2].Detail, rep.Results[3].Detail)
	}
	var tab bytes.Buffer
	rep.WriteTable(&tab)
	for _, want := range []string{"CHECK", "printer", "PASS", "hangs", "FAIL", "hint: the device or service hangs", "2 of 5 checks failed"} {
		if !strings.Contains(tab.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, tab.String())
		}
	}
	var js bytes.Buffer
	rep.WriteJSON(&js)
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Failed != 2 || back.Results[2].Hint == "" {
		t.Errorf("JSON %s: %v", js.String(), err)
	}
}

func TestClock(t *testing.T) {
	wantStatus(t, run1(t, Clock(func() (bool, error) { return true, nil })), Pass, "synchronised")
	wantStatus(t, run1(t, Clock(func() (bool, error) { return false, nil })), Fail, "not synchronised")
	wantStatus(t, run1(t, Clock(func() (bool, error) { return false, errors.New("EPERM") })), Fail, "EPERM")
	if _, err := KernelClock(); err != nil {
		t.Errorf("KernelClock: %v", err)
	}
}

func TestDisk(t *testing.T) {
	dir := t.TempDir()
	wantStatus(t, run1(t, Disk(dir, 1)), Pass, "free under")
	wantStatus(t, run1(t, Disk(dir, 1<<62)), Fail, "below the reserve")
	wantStatus(t, run1(t, Disk(filepath.Join(dir, "gone"), 1)), Fail, "no such file")
}

func TestStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "outbox.db")
	k, _ := keys.LoadOrCreate(filepath.Join(dir, "device.key"))
	s, err := outbox.Open(path, outbox.Identity{Tenant: "shop-1", Device: "till-1", Key: k})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := s.Append(context.Background(), outbox.Record{Key: "k" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Type: "t", Body: []byte(`{"pad":"` + strings.Repeat("x", 500) + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	// While the store is open, as beside a running daemon.
	wantStatus(t, run1(t, Store(path)), Pass, "quick_check ok")
	s.Close()
	// Damage the pages in the middle of the file, as a bad sector would.
	b, _ := os.ReadFile(path)
	for i := len(b) / 3; i < len(b)/3+8192 && i < len(b); i++ {
		b[i] = 0x5a
	}
	os.WriteFile(path, b, 0o600)
	r := run1(t, Store(path))
	wantStatus(t, r, Fail, "")
	if !strings.Contains(r.Hint, "damaged") && !strings.Contains(r.Hint, "cannot be opened") {
		t.Errorf("hint %q", r.Hint)
	}
	wantStatus(t, run1(t, Store(filepath.Join(dir, "none.db"))), Fail, "")
}

func TestIdentity(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	wantStatus(t, run1(t, Identity(k, true, true)), Pass, "TPM present")
	wantStatus(t, run1(t, Identity(k, false, false)), Skip, "simulated")
	wantStatus(t, run1(t, Identity(k, false, true)), Fail, "no TPM")
	wantStatus(t, run1(t, Identity(nil, false, true)), Fail, "no identity key")
}

// failing devices, for the failure paths.
type brokenLines struct{ gpio.Lines }

func (brokenLines) Pulse(context.Context, string, time.Duration) error {
	return errors.New("gpio cdev gpiochip0: set line: input/output error")
}

type brokenDisplay struct{ display.Display }

func (brokenDisplay) Show(context.Context, display.Screen) error { return errors.New("i2c: no ACK") }

type brokenCard struct{ cardreader.Reader }

func (brokenCard) Probe(context.Context) (cardreader.Presence, error) {
	return cardreader.Presence{}, errors.New("pcsc: pcscd is not running")
}

type atrCard struct{ cardreader.Reader }

func (atrCard) Probe(context.Context) (cardreader.Presence, error) {
	return cardreader.Presence{Reader: "ACS ACR122U 00 00", Card: true, ATR: []byte{0x3b, 0x88}}, nil
}

type brokenPrinter struct{ printer.Printer }

func (brokenPrinter) Print(context.Context, printer.Document) error {
	return errors.New("write /dev/ttyUSB0: EIO")
}
func (brokenPrinter) OpenDrawer(context.Context) error { return errors.New("write /dev/ttyUSB0: EIO") }

func TestDevices(t *testing.T) {
	lines := gpiosim.New()
	wantStatus(t, run1(t, Lines(lines)), Pass, "pulsed led_green, led_red, buzzer; tamper switch closed")
	for _, n := range []string{gpio.LineLEDGreen, gpio.LineLEDRed, gpio.LineBuzzer} {
		if lines.Pulses(n) != 1 {
			t.Errorf("%s pulsed %d times", n, lines.Pulses(n))
		}
	}
	wantStatus(t, run1(t, Lines(brokenLines{lines})), Fail, "input/output error")

	wantStatus(t, run1(t, Display(displaysim.New())), Pass, "read back")
	wantStatus(t, run1(t, Display(brokenDisplay{})), Fail, "no ACK")

	cr, _ := cardsim.New(cardsim.Options{})
	wantStatus(t, run1(t, CardReader(cr)), Pass, "sim: card present")
	wantStatus(t, run1(t, CardReader(atrCard{})), Pass, "ATR 3B88")
	wantStatus(t, run1(t, CardReader(brokenCard{})), Fail, "pcscd is not running")

	p := printersim.New(printersim.Options{})
	wantStatus(t, run1(t, Printer(p, "till-1")), Pass, "test slip printed")
	if !strings.Contains(p.Last(), "SELF-TEST") || !strings.Contains(p.Last(), "till-1") {
		t.Errorf("slip %q", p.Last())
	}
	wantStatus(t, run1(t, Drawer(p, "printer")), Pass, "via printer")
	if p.Openings() != 1 {
		t.Errorf("drawer opened %d times", p.Openings())
	}
	wantStatus(t, run1(t, Printer(brokenPrinter{}, "till-1")), Fail, "EIO")
	wantStatus(t, run1(t, Drawer(brokenPrinter{}, "printer")), Fail, "EIO")
	wantStatus(t, run1(t, Drawer(printer.LineDrawer{Lines: lines}, "gpio")), Pass, "via gpio")
}

// TestPrinterAtTheWire prints the test slip on the ESC/POS emulator over
// a pseudo-terminal, and fails when the emulator reports no paper.
func TestPrinterAtTheWire(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := escposemu.New()
	pt, err := e.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	p, err := escpos.Open(ctx, escpos.Options{Port: pt.Path, Baud: 115200, Status: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	wantStatus(t, run1(t, Printer(p, "till-1")), Pass, "test slip printed")
	s, err := e.Wait(ctx, func(s escposemu.State) bool { return len(s.Slips) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Slips[0].Lines(), "\n"); !strings.Contains(got, "SELF-TEST") {
		t.Errorf("slip %q", got)
	}
	e.SetPaperOut(true)
	wantStatus(t, run1(t, Printer(p, "till-1")), Fail, "paper out")
}

func TestCodeReader(t *testing.T) {
	var frames atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				frames.Add(1)
			}
		}
	}()
	count := func() int { return int(frames.Load()) }
	tap := &Tap{}
	go func() {
		time.Sleep(50 * time.Millisecond)
		tap.Add(codereader.Code{Text: "not the card"})
		tap.Add(codereader.Code{Text: TestCard})
	}()
	wantStatus(t, run1(t, CodeReader("camera 0", "camera 0", tap, count, 2, 300*time.Millisecond, 0)), Pass, "frames/s, test card decoded")
	// The card seen a moment ago still counts; not one from long ago.
	wantStatus(t, run1(t, CodeReader("camera 0", "camera 0", tap, count, 2, 100*time.Millisecond, time.Minute)), Pass, "test card decoded")
	wantStatus(t, run1(t, CodeReader("camera 0", "camera 0", &Tap{}, count, 2, 200*time.Millisecond, 0)), Fail, "test card did not decode")
	r := run1(t, CodeReader("camera 0", "camera 0", &Tap{}, func() int { return 0 }, 2, 100*time.Millisecond, 0))
	wantStatus(t, r, Fail, "no frames from camera 0")
	if !strings.Contains(r.Hint, "cable") {
		t.Errorf("hint %q", r.Hint)
	}
	slow := 0
	wantStatus(t, run1(t, CodeReader("camera 0", "camera 0", &Tap{}, func() int { slow++; return slow }, 25, 100*time.Millisecond, 0)), Fail, "below 25")
	wantStatus(t, run1(t, CodeReader("code reader 1", "code reader 1 (scanner)", &Tap{}, nil, 0, 100*time.Millisecond, 0)), Fail, "did not decode")
}

// answering is an outbox whose platform answers each record at once.
type answering struct {
	p      *Pinger
	status string
}

func (a *answering) Append(_ context.Context, r outbox.Record) (outbox.Entry, error) {
	if a.status != "" {
		go a.p.OnResult(envelope.Result{Key: r.Key, Status: a.status, Reason: "refused"})
	}
	return outbox.Entry{Key: r.Key, Type: r.Type}, nil
}

func TestPlatformPing(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   Status
		detail string
	}{{"applied", Pass, "answered in"}, {"rejected", Fail, "answered rejected"}, {"", Fail, "no answer"}} {
		a := &answering{status: tc.status}
		p := &Pinger{Outbox: a}
		a.p = p
		wantStatus(t, run1(t, Platform(p, 200*time.Millisecond)), tc.want, tc.detail)
	}
}

func TestWriteCardDecodes(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCard(&b, 4); err != nil || b.Len() < 100 {
		t.Fatalf("card: %d bytes, %v", b.Len(), err)
	}
}
