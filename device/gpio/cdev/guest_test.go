//go:build qemuguest

// The tests in this file run only inside the qemu guest that TestKernel
// boots (built with -tags qemuguest): they need the gpio-sim module of a
// real kernel (Documentation/admin-guide/gpio/gpio-sim.rst), which drives
// the far side of the lines through configfs and sysfs.

package cdev

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warthog618/go-gpiocdev"

	"github.com/guichet/guichet/device/gpio"
)

// simChip is one gpio-sim chip made live through configfs.
type simChip struct {
	name  string // gpiochipN
	sysfs string // /sys/devices/platform/gpio-sim.N/gpiochipN
}

var (
	simOnce sync.Once
	sim     simChip
	simErr  error
)

const simLines = 8

// theSim creates (once) a gpio-sim device with one bank of simLines lines.
func theSim(t *testing.T) simChip {
	t.Helper()
	simOnce.Do(func() { sim, simErr = newSim("guichet") })
	if simErr != nil {
		t.Fatal(simErr)
	}
	return sim
}

func newSim(dev string) (simChip, error) {
	base := filepath.Join("/sys/kernel/config/gpio-sim", dev)
	bank := filepath.Join(base, "bank0")
	if err := os.MkdirAll(bank, 0o755); err != nil {
		return simChip{}, fmt.Errorf("gpio-sim configfs (is the module loaded?): %w", err)
	}
	for _, w := range []struct{ file, val string }{
		{filepath.Join(bank, "num_lines"), fmt.Sprint(simLines)},
		{filepath.Join(bank, "label"), "guichet-sim"},
		{filepath.Join(base, "live"), "1"},
	} {
		if err := os.WriteFile(w.file, []byte(w.val), 0o644); err != nil {
			return simChip{}, fmt.Errorf("gpio-sim: %w", err)
		}
	}
	chip, err := os.ReadFile(filepath.Join(bank, "chip_name"))
	if err != nil {
		return simChip{}, fmt.Errorf("gpio-sim: %w", err)
	}
	devName, err := os.ReadFile(filepath.Join(base, "dev_name"))
	if err != nil {
		return simChip{}, fmt.Errorf("gpio-sim: %w", err)
	}
	c := simChip{name: strings.TrimSpace(string(chip))}
	c.sysfs = filepath.Join("/sys/devices/platform", strings.TrimSpace(string(devName)), c.name)
	return c, nil
}

// value reads the level the driver drives on offset, as gpio-sim sees it.
func (c simChip) value(t *testing.T, offset int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.sysfs, fmt.Sprintf("sim_gpio%d", offset), "value"))
	if err != nil {
		t.Fatal(err)
	}
	switch strings.TrimSpace(string(b)) {
	case "0":
		return 0
	case "1":
		return 1
	}
	t.Fatalf("sim_gpio%d value %q", offset, b)
	return -1
}

// pull sets the level outside the chip on an input: "pull-up" or "pull-down".
func (c simChip) pull(t *testing.T, offset int, p string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.sysfs, fmt.Sprintf("sim_gpio%d", offset), "pull"), []byte(p), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (c simChip) options(tamperActiveLow bool) Options {
	off := func(n int) *int { return &n }
	return Options{
		Chip: c.name,
		Lines: map[string]LineOptions{
			gpio.LineLEDGreen: {Offset: off(0)},
			gpio.LineLEDRed:   {Offset: off(1), ActiveLow: true},
			gpio.LineBuzzer:   {Offset: off(2)},
			gpio.LineDrawer:   {Offset: off(3)},
			gpio.LineTamper:   {Offset: off(4), Input: true, ActiveLow: tamperActiveLow},
		},
	}
}

func open(t *testing.T, o Options) *Lines {
	t.Helper()
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestGuestOutputs(t *testing.T) {
	c := theSim(t)
	l := open(t, c.options(false))
	defer l.Close()
	// Outputs start off: low, or high for the active-low red LED.
	if c.value(t, 0) != 0 || c.value(t, 1) != 1 || c.value(t, 2) != 0 || c.value(t, 3) != 0 {
		t.Fatalf("initial levels %d %d %d %d", c.value(t, 0), c.value(t, 1), c.value(t, 2), c.value(t, 3))
	}
	for _, step := range []struct {
		line  string
		on    bool
		off   int
		level int
	}{
		{gpio.LineLEDGreen, true, 0, 1},
		{gpio.LineLEDRed, true, 1, 0},
		{gpio.LineLEDGreen, false, 0, 0},
		{gpio.LineLEDRed, false, 1, 1},
		{gpio.LineBuzzer, true, 2, 1},
	} {
		if err := l.Set(step.line, step.on); err != nil {
			t.Fatal(err)
		}
		if got := c.value(t, step.off); got != step.level {
			t.Errorf("after Set(%s, %v) level %d, want %d", step.line, step.on, got, step.level)
		}
		if got, err := l.Get(step.line); err != nil || got != step.on {
			t.Errorf("Get(%s) = %v, %v; want %v", step.line, got, err, step.on)
		}
	}
	if err := l.Set(gpio.LineTamper, true); err == nil || !strings.Contains(err.Error(), "input") {
		t.Errorf("Set on the input: %v", err)
	}
	if err := l.Set("fan", true); err == nil || !strings.Contains(err.Error(), `"fan"`) {
		t.Errorf("Set on an unknown line: %v", err)
	}

	// The consumer label is what the kernel shows to other tools.
	chip, err := gpiocdev.NewChip(c.name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := chip.LineInfo(3)
	chip.Close()
	if err != nil || info.Consumer != "guichet" || !info.Used {
		t.Errorf("line 3 info %+v, %v", info, err)
	}

	// Close drives the outputs off and releases them.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if c.value(t, 2) != 0 {
		t.Error("buzzer left on after Close")
	}
	l2 := open(t, c.options(false))
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestGuestPulse(t *testing.T) {
	c := theSim(t)
	l := open(t, c.options(false))
	defer l.Close()
	if err := l.Pulse(context.Background(), gpio.LineDrawer, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if c.value(t, 3) != 0 {
		t.Error("drawer on after the pulse")
	}

	// A long pulse is seen on the line, then cut short by its context.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Pulse(ctx, gpio.LineDrawer, time.Minute) }()
	deadline := time.Now().Add(10 * time.Second)
	for c.value(t, 3) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("pulse never seen on the line")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Pulse = %v", err)
	}
	if c.value(t, 3) != 0 {
		t.Error("drawer on after the cancelled pulse")
	}
}

func TestGuestTamper(t *testing.T) {
	for _, activeLow := range []bool{false, true} {
		t.Run(fmt.Sprintf("active_low=%v", activeLow), func(t *testing.T) {
			c := theSim(t)
			c.pull(t, 4, "pull-down")
			l := open(t, c.options(activeLow))
			defer l.Close()
			if on, err := l.Get(gpio.LineTamper); err != nil || on != activeLow {
				t.Fatalf("tamper at low level: %v, %v", on, err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			edges := make(chan bool, 8)
			done := make(chan error, 1)
			go func() { done <- l.Watch(ctx, gpio.LineTamper, func(on bool) { edges <- on }) }()
			// Watch registers before the first edge only once it runs.
			time.Sleep(50 * time.Millisecond)
			for _, p := range []string{"pull-up", "pull-down", "pull-up"} {
				c.pull(t, 4, p)
				want := (p == "pull-up") != activeLow
				select {
				case on := <-edges:
					if on != want {
						t.Errorf("after %s edge says on=%v, want %v", p, on, want)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("no edge after %s", p)
				}
				if on, err := l.Get(gpio.LineTamper); err != nil || on != want {
					t.Errorf("after %s Get = %v, %v", p, on, err)
				}
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Watch = %v", err)
			}
			if err := l.Watch(context.Background(), gpio.LineBuzzer, func(bool) {}); err == nil {
				t.Error("Watch on an output accepted")
			}
			// Close ends a running Watch.
			go func() { done <- l.Watch(context.Background(), gpio.LineTamper, func(bool) {}) }()
			time.Sleep(20 * time.Millisecond)
			l.Close()
			select {
			case err := <-done:
				if !errors.Is(err, ErrClosed) {
					t.Errorf("Watch after Close = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not end Watch")
			}
			c.pull(t, 4, "pull-down")
		})
	}
}

func TestGuestErrors(t *testing.T) {
	c := theSim(t)
	o := c.options(false)
	beyond := simLines + 2
	o.Lines[gpio.LineBuzzer] = LineOptions{Offset: &beyond}
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	err = l.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"buzzer"`) || !strings.Contains(err.Error(), c.name) {
		t.Errorf("Open with an offset beyond the chip = %v", err)
	}

	// A line held by someone else is busy; the error names it, and the
	// lines requested before it are released.
	first := open(t, c.options(false))
	defer first.Close()
	second, err := New(c.options(false))
	if err != nil {
		t.Fatal(err)
	}
	err = second.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), "request line") {
		t.Errorf("second Open = %v", err)
	}
	first.Close()
	third := open(t, c.options(false))
	third.Close()

	o = c.options(false)
	o.Chip = "gpiochip77"
	l, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "gpiochip77") {
		t.Errorf("Open of a missing chip = %v", err)
	}
}

// TestGuestInputConfig checks that debounce and bias reach the kernel: the
// line info shows the debounce period, and gpio-sim turns a pull-up bias
// into a high level that reads as on.
func TestGuestInputConfig(t *testing.T) {
	c := theSim(t)
	c.pull(t, 4, "pull-down")
	o := c.options(false)
	tamper := o.Lines[gpio.LineTamper]
	tamper.Debounce = "10ms"
	tamper.Bias = "pull-up"
	o.Lines[gpio.LineTamper] = tamper
	l := open(t, o)
	defer l.Close()
	chip, err := gpiocdev.NewChip(c.name)
	if err != nil {
		t.Fatal(err)
	}
	defer chip.Close()
	info, err := chip.LineInfo(4)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.DebouncePeriod != 10*time.Millisecond || info.Config.Bias != gpiocdev.LineBiasPullUp {
		t.Errorf("tamper line config %+v", info.Config)
	}
	if on, err := l.Get(gpio.LineTamper); err != nil || !on {
		t.Errorf("tamper with pull-up bias reads %v, %v", on, err)
	}
	l.Close()
	c.pull(t, 4, "pull-down")
}
