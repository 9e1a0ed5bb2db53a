package sim

import (
	"context"
	"testing"

	"github.com/guichet/guichet/device/display"
)

func TestShowWakesWatchers(t *testing.T) {
	d := New()
	_, v0, changed := d.Current()
	lines := []string{"12.34 CNY"}
	if err := d.Show(context.Background(), display.Screen{QR: "000201", Lines: lines}); err != nil {
		t.Fatal(err)
	}
	lines[0] = "mutated by the caller"
	select {
	case <-changed:
	default:
		t.Fatal("watcher not woken")
	}
	s, v1, _ := d.Current()
	if v1 != v0+1 || s.QR != "000201" || s.Lines[0] != "12.34 CNY" {
		t.Fatalf("screen %+v version %d", s, v1)
	}
}
