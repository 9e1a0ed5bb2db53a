package printer_test

import (
	"context"
	"testing"
	"time"

	"github.com/guichet/guichet/device/gpio"
	gpiosim "github.com/guichet/guichet/device/gpio/sim"
	"github.com/guichet/guichet/device/printer"
)

func TestLineDrawer(t *testing.T) {
	l := gpiosim.New()
	var d printer.Drawer = printer.LineDrawer{Lines: l, Pulse: time.Millisecond}
	if err := d.OpenDrawer(context.Background()); err != nil {
		t.Fatal(err)
	}
	if on, err := l.Get(gpio.LineDrawer); err != nil || on || l.Pulses(gpio.LineDrawer) != 1 {
		t.Fatalf("drawer line after the pulse: %v, %v, %d pulses", on, err, l.Pulses(gpio.LineDrawer))
	}
}
