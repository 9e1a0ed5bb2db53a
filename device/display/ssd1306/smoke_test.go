//go:build smoketest

package ssd1306

import (
	"context"
	"os"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device/display"
)

// TestSmoke drives a real panel; it is built only with -tags smoketest:
//
//	GUICHET_SSD1306='{bus: "1", address: 0x3C}' go test -tags smoketest -run Smoke -v ./device/display/ssd1306
//
// It shows a payment code, then "Paid", then switches the panel off; the
// technician checks each with their eyes and a phone.
func TestSmoke(t *testing.T) {
	src, ok := os.LookupEnv("GUICHET_SSD1306")
	if !ok {
		t.Fatal(`set GUICHET_SSD1306 to the panel's options in YAML, e.g. '{bus: "1"}'`)
	}
	var o Options
	if err := yaml.Unmarshal([]byte(src), &o); err != nil {
		t.Fatalf("GUICHET_SSD1306: %v", err)
	}
	d, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	for _, s := range []display.Screen{payScreen, paidScreen} {
		start := time.Now()
		if err := d.Show(ctx, s); err != nil {
			t.Fatal(err)
		}
		t.Logf("shown %q in %v; look at the panel", s.Lines, time.Since(start))
		time.Sleep(5 * time.Second)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}
