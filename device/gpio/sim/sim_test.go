package sim

import (
	"context"
	"testing"
	"time"

	"github.com/guichet/guichet/device"
)

func TestLines(t *testing.T) {
	l, err := device.LineSets.Open(context.Background(), "sim", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Set(device.LineDrawer, true); err != nil {
		t.Fatal(err)
	}
	if on, _ := l.Get(device.LineDrawer); !on {
		t.Fatal("drawer not on")
	}
	if err := l.Pulse(context.Background(), device.LineBuzzer, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if on, _ := l.Get(device.LineBuzzer); on || l.(*Lines).Pulses(device.LineBuzzer) != 1 {
		t.Fatal("pulse did not end off, or was not counted")
	}
	if err := l.Set("laser", true); err == nil {
		t.Fatal("unknown line accepted")
	}
}
