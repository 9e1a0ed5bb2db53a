package ssd1306

import (
	"context"
	"image"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
	oled "periph.io/x/devices/v3/ssd1306"
	"periph.io/x/devices/v3/ssd1306/image1bit"

	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/device/display/render"
	"github.com/guichet/guichet/internal/benchfig"
)

// busBytes counts the bytes a sequence of I²C writes puts on the wire.
func busBytes(ops []i2ctest.IO) int {
	n := 0
	for _, op := range ops {
		n += 1 + len(op.W) // address byte, then the written bytes
	}
	return n
}

// i2cMillis is the time bytes take on a 400 kHz bus: 9 clocks a byte (8
// bits and the acknowledge), plus a start and a stop per transaction.
func i2cMillis(bytes, transactions int) float64 {
	return float64(9*bytes+2*transactions) / 400e3 * 1e3
}

// BenchmarkShow reports what a screen change costs on the bus of a 128x64
// panel: show_bus_bytes_pay_128x64 and show_i2c_ms_pay_128x64 for the
// payment screen after the blank one New leaves, and show_bus_bytes_word_128x64 for a
// change of one word on it. The anchor periph_bus_bytes_word_128x64 is
// periph.io's own driver drawing the same two images (its partial update
// positions the window with page-mode commands, see the package doc).
func BenchmarkShow(b *testing.B) {
	pay := display.Screen{QR: emvPayload, Lines: []string{"CNY", "128.50", "Scan to", "pay"}}
	word := display.Screen{QR: emvPayload, Lines: []string{"CNY", "128.50", "Scan to", "PAY"}}
	for i := 0; i < b.N; i++ {
		rec := &i2ctest.Record{Bus: newPanel(128, 64)}
		d, err := New(rec, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n := len(rec.Ops)
		if err := d.Show(context.Background(), pay); err != nil {
			b.Fatal(err)
		}
		full := rec.Ops[n:]
		n = len(rec.Ops)
		if err := d.Show(context.Background(), word); err != nil {
			b.Fatal(err)
		}
		changed := rec.Ops[n:]

		prec := &i2ctest.Record{}
		p, err := oled.NewI2C(prec, &oled.Opts{W: 128, H: 64})
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range []display.Screen{{}, pay} {
			img, err := render.Screen(s, image.Pt(128, 64))
			if err != nil {
				b.Fatal(err)
			}
			v := image1bit.NewVerticalLSB(img.Rect)
			pack(v, img)
			if err := p.Draw(v.Rect, v, image.Point{}); err != nil {
				b.Fatal(err)
			}
		}
		n = len(prec.Ops)
		img, err := render.Screen(word, image.Pt(128, 64))
		if err != nil {
			b.Fatal(err)
		}
		v := image1bit.NewVerticalLSB(img.Rect)
		pack(v, img)
		if err := p.Draw(v.Rect, v, image.Point{}); err != nil {
			b.Fatal(err)
		}
		benchfig.Report(b, "show_bus_bytes_pay_128x64", float64(busBytes(full)), "bytes")
		benchfig.Report(b, "show_i2c_ms_pay_128x64", i2cMillis(busBytes(full), len(full)), "ms")
		benchfig.Report(b, "show_bus_bytes_word_128x64", float64(busBytes(changed)), "bytes")
		benchfig.Report(b, "periph_bus_bytes_word_128x64", float64(busBytes(prec.Ops[n:])), "bytes")
	}
}
