package selftest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/device/gpio"
	"github.com/guichet/guichet/device/printer"
	"github.com/guichet/guichet/device/printer/escpos"
)

// TestCard is the text of the test card: a QR code a camera or scanner
// must decode during the self-test (guichet selftest --card prints it).
const TestCard = "GUICHET-SELFTEST"

// Tap remembers when a code reader last reported the test card, for the
// code reader check; whoever reads the reader's codes adds them.
type Tap struct {
	mu   sync.Mutex
	seen time.Time
	ch   chan struct{} // closed and replaced at each sighting
}

// Add notes a code the reader reported.
func (t *Tap) Add(c codereader.Code) {
	if c.Text != TestCard {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen = time.Now()
	if t.ch != nil {
		close(t.ch)
		t.ch = nil
	}
}

// wait returns once the test card was seen after since, or false when
// ctx ends first.
func (t *Tap) wait(ctx context.Context, since time.Time) bool {
	for {
		t.mu.Lock()
		if !t.seen.Before(since) {
			t.mu.Unlock()
			return true
		}
		if t.ch == nil {
			t.ch = make(chan struct{})
		}
		ch := t.ch
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// CodeReader checks a code reader: for a camera (frames not nil, counting
// the frames grabbed so far) that frames come at least at minFPS, and for
// every reader that the test card decodes within window. A card reported
// up to recent before the check counts, as readers do not report the same
// code twice in a row.
func CodeReader(name, what string, tap *Tap, frames func() int, minFPS float64, window, recent time.Duration) Check {
	return Check{Name: name, Lane: name, Timeout: window + time.Second, Run: func(ctx context.Context) Result {
		start := time.Now()
		f0 := 0
		if frames != nil {
			f0 = frames()
		}
		wctx, cancel := context.WithTimeout(ctx, window)
		defer cancel()
		card := tap.wait(wctx, start.Add(-recent))
		if card && frames != nil {
			// The card alone says little of the rate: measure a
			// while longer.
			<-wctx.Done()
		}
		if frames == nil {
			if !card {
				return Failed(fmt.Errorf("the test card did not decode in %v", window),
					fmt.Sprintf("scan the test card with %s during the self-test; check its cable and configuration", what))
			}
			return Passed("test card decoded")
		}
		el := time.Since(start).Seconds()
		n := frames() - f0
		fps := float64(n) / el
		switch {
		case n == 0:
			return Failed(fmt.Errorf("no frames from %s in %.1fs", what, el),
				fmt.Sprintf("check the cable of %s and that its device (such as /dev/video0) exists", what))
		case fps < minFPS:
			return Failed(fmt.Errorf("%s gives %.1f frames/s, below %.0f", what, fps, minFPS),
				"check the USB port (a USB 2 hub shares its bandwidth), the light (long exposures slow the camera) and the camera's fps option")
		case !card:
			return Failed(fmt.Errorf("%.1f frames/s but the test card did not decode in %v", fps, window),
				"hold the test card 15-25 cm in front of the camera, in good light; clean the lens and check the focus")
		}
		return Passed("%.1f frames/s, test card decoded", fps)
	}}
}

// CardReader checks that the card reader answers: the reader is there,
// and a card is on it or not (with its ATR where the reader gives it).
func CardReader(r cardreader.Reader) Check {
	return Check{Name: "card reader", Lane: "card reader", Run: func(ctx context.Context) Result {
		p, ok := r.(cardreader.Prober)
		if !ok {
			return Skipped("the driver cannot be probed")
		}
		pr, err := p.Probe(ctx)
		if err != nil {
			return Failed(err, "check the reader's cable; for a PC/SC reader that pcscd runs (systemctl status pcscd) and pcsc_scan lists it; for a SAM reader the serial port in devices.card_reader.options.port")
		}
		switch {
		case pr.Card && len(pr.ATR) > 0:
			return Passed("%s: card present, ATR %X", pr.Reader, pr.ATR)
		case pr.Card:
			return Passed("%s: card present", pr.Reader)
		}
		return Passed("%s: no card", pr.Reader)
	}}
}

// current is a display that can say what it shows.
type current interface {
	Current() (display.Screen, uint64, <-chan struct{})
}

// Display checks that the display draws a test screen, and reads it back
// where the display can.
func Display(d display.Display) Check {
	return Check{Name: "display", Lane: "display", Run: func(ctx context.Context) Result {
		s := display.Screen{Lines: []string{"SELF-TEST", time.Now().Format("15:04:05")}}
		if err := d.Show(ctx, s); err != nil {
			return Failed(err, "check the display's cable and its bus address (devices.display.options; i2cdetect -y 1 lists it)")
		}
		c, ok := d.(current)
		if !ok {
			return Passed("test screen drawn (the bus gives no read-back)")
		}
		got, _, _ := c.Current()
		if strings.Join(got.Lines, "\n") != strings.Join(s.Lines, "\n") {
			return Failed(fmt.Errorf("read back %q, drew %q", got.Lines, s.Lines), "the display's memory does not hold what was drawn: replace the display")
		}
		return Passed("test screen drawn and read back")
	}}
}

// Pulse is how long the self-test drives each output line.
const Pulse = 80 * time.Millisecond

// Lines checks the GPIO lines: it pulses the LEDs and the buzzer and reads
// the tamper input. A line the configuration does not wire is noted, not
// failed.
func Lines(l gpio.Lines) Check {
	return Check{Name: "gpio", Lane: "gpio", Run: func(ctx context.Context) Result {
		var done, absent []string
		for _, n := range []string{gpio.LineLEDGreen, gpio.LineLEDRed, gpio.LineBuzzer} {
			err := l.Pulse(ctx, n, Pulse)
			switch {
			case absentLine(err):
				absent = append(absent, n)
			case err != nil:
				return Failed(err, "check the GPIO chip and the line offsets in devices.gpio.options; gpioinfo lists the lines")
			default:
				done = append(done, n)
			}
		}
		detail := "pulsed " + strings.Join(done, ", ")
		switch on, err := l.Get(gpio.LineTamper); {
		case absentLine(err):
			absent = append(absent, gpio.LineTamper)
		case err != nil:
			return Failed(err, "the tamper input cannot be read: check devices.gpio.options")
		case on:
			detail += "; tamper switch open"
		default:
			detail += "; tamper switch closed"
		}
		if len(absent) > 0 {
			detail += "; not wired: " + strings.Join(absent, ", ")
		}
		if len(done) == 0 {
			return Failed(errors.New("no output line answers: "+detail), "configure the LED and buzzer lines in devices.gpio.options")
		}
		return Passed("%s", detail)
	}}
}

// absentLine reports whether err says the line is not configured.
func absentLine(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no line")
}

// TestSlip is what the printer prints during the self-test.
func TestSlip(device string, at time.Time) printer.Document {
	return printer.Document{Lines: []printer.Line{
		{Text: "SELF-TEST", Align: printer.Center, Bold: true, Big: true},
		{Text: "device", Right: device},
		{Text: "time", Right: at.UTC().Format("2006-01-02 15:04:05Z")},
		{Text: "0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{QR: TestCard},
		{Text: "the printer works", Align: printer.Center},
	}}
}

// Printer checks the printer: it prints a test slip and, where the printer
// reports its state, checks that it has paper.
func Printer(p printer.Printer, device string) Check {
	return Check{Name: "printer", Lane: "printer", Timeout: 10 * time.Second, Run: func(ctx context.Context) Result {
		if ep, ok := p.(*escpos.Printer); ok {
			st, err := ep.Status(ctx)
			if err != nil {
				return Failed(err, "the printer does not answer: check that it is on, its cable, and devices.printer.options (port, baud)")
			}
			if st.PaperOut {
				return Failed(errors.New("paper out"), "load a paper roll and close the cover")
			}
		}
		if err := p.Print(ctx, TestSlip(device, time.Now())); err != nil {
			return Failed(err, "the printer does not print: check that it is on, has paper, its cable, and devices.printer.options")
		}
		return Passed("test slip printed")
	}}
}

// Drawer checks that the cash drawer opens; lane is the device it opens
// through ("printer" or "gpio").
func Drawer(d printer.Drawer, lane string) Check {
	return Check{Name: "drawer", Lane: lane, Run: func(ctx context.Context) Result {
		if err := d.OpenDrawer(ctx); err != nil {
			return Failed(err, "the drawer does not open: check its RJ11 cable to the printer (or its relay on the GPIO line) and devices.drawer")
		}
		return Passed("drawer pulsed via %s", lane)
	}}
}
