package daemon

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device/gpio"
	gpiosim "github.com/guichet/guichet/device/gpio/sim"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/sync/outbox"
)

// The tamper switch as the daemon wires it, on the simulated lines: the
// red LED on while locked, also after a restart, the buzzer at an
// opening; a decline pulses the red LED, but no pulse turns it off while
// locked; the technician's clearing does.
func TestTamperLines(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	_, key, _ := ed25519.GenerateKey(nil)
	cfg := &config.Daemon{Tamper: config.Tamper{Policy: "lock"}}
	lines := gpiosim.New()
	var kept gpio.Lines = lines // the daemon's lines: lines, then keepRed
	// The pulses run at once here, so that the test sees them done.
	pulse := func(line string, d time.Duration) { kept.Pulse(ctx, line, time.Nanosecond) }
	open := func() (*outbox.Store, func() bool) {
		store, err := outbox.Open(path, outbox.Identity{Tenant: "t", Device: "d", Key: key})
		if err != nil {
			t.Fatal(err)
		}
		al, err := audit.Open(ctx, store, nil)
		if err != nil {
			t.Fatal(err)
		}
		kept = lines
		sw, err := openTamper(ctx, cfg, lines, store, al, &staff.Staff{Store: store, Iterations: 1000}, pulse, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		kept = keepRed(lines, sw)
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); sw.Watch(wctx, lines, gpio.LineTamper) }()
		<-lines.Watched(gpio.LineTamper)
		t.Cleanup(func() { stop(); <-done; store.Close() })
		signal := func() bool {
			signalPayment(checkout.Payment{Status: checkout.StatusDeclined}, pulse)
			return sw.State().Locked
		}
		return store, signal
	}
	red := func() bool { on, _ := lines.Get(gpio.LineLEDRed); return on }

	store, signal := open()
	if signal(); red() || lines.Pulses(gpio.LineLEDRed) != 1 || lines.Pulses(gpio.LineBuzzer) != 1 {
		t.Fatalf("a decline: red %t, %d red pulses, %d buzzes", red(), lines.Pulses(gpio.LineLEDRed), lines.Pulses(gpio.LineBuzzer))
	}
	lines.Set(gpio.LineTamper, true)
	if !red() || lines.Pulses(gpio.LineBuzzer) != 2 {
		t.Fatalf("after the opening: red %t, %d buzzes", red(), lines.Pulses(gpio.LineBuzzer))
	}
	if locked := signal(); !locked || !red() {
		t.Fatalf("a decline while locked turned the red LED off")
	}
	// The self-test's pulse, or anyone's Set, neither.
	kept.Pulse(ctx, gpio.LineLEDRed, time.Nanosecond)
	kept.Set(gpio.LineLEDRed, false)
	if !red() {
		t.Fatal("the red LED went off while locked")
	}
	store.Close()
	lines.Set(gpio.LineLEDRed, false) // the board powered off
	store, _ = open()
	if !red() {
		t.Fatal("red LED off after a restart while locked")
	}
	people := &staff.Staff{Store: store, Iterations: 1000}
	if err := people.Add(ctx, "tech1", "Tech One", staff.Technician, "482913"); err != nil {
		t.Fatal(err)
	}
	if _, err := kept.(*redKept).sw.Clear(ctx, "tech1", "482913"); err != nil {
		t.Fatal(err)
	}
	if red() {
		t.Fatal("red LED still on after the technician cleared the lock")
	}
}
