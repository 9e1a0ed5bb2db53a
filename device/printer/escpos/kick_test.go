package escpos

import (
	"slices"
	"testing"
)

// TestKickBytes pins the drawer pulse to ESC p m t1 t2 (ESC/POS
// "Generate pulse"): m 0 for pin 2, 1 for pin 5, t1 and t2 in 2 ms units,
// clipped to 1 and 255.
func TestKickBytes(t *testing.T) {
	for _, c := range []struct {
		pin     byte
		on, off int
		want    []byte
	}{
		{Pin2, 50, 500, []byte{ESC, 'p', 0, 25, 250}},
		{Pin5, 100, 1000, []byte{ESC, 'p', 1, 50, 255}},
		{Pin2, 0, 1, []byte{ESC, 'p', 0, 1, 1}},
	} {
		if got := AppendKick(nil, c.pin, c.on, c.off); !slices.Equal(got, c.want) {
			t.Errorf("pin %d, %d/%d ms: % x, want % x", c.pin, c.on, c.off, got, c.want)
		}
	}
}
