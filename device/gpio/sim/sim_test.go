package sim

import (
	"context"
	"testing"
	"time"

	"github.com/guichet/guichet/device/gpio"
)

func TestLines(t *testing.T) {
	l, err := gpio.Drivers.Open(context.Background(), "sim", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Set(gpio.LineDrawer, true); err != nil {
		t.Fatal(err)
	}
	if on, _ := l.Get(gpio.LineDrawer); !on {
		t.Fatal("drawer not on")
	}
	if err := l.Pulse(context.Background(), gpio.LineBuzzer, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if on, _ := l.Get(gpio.LineBuzzer); on || l.(*Lines).Pulses(gpio.LineBuzzer) != 1 {
		t.Fatal("pulse did not end off, or was not counted")
	}
	if err := l.Set("laser", true); err == nil {
		t.Fatal("unknown line accepted")
	}
}
