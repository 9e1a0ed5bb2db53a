package escpos

import (
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/device/printer"
	"github.com/guichet/guichet/internal/escposemu"
)

// FuzzEncode checks that whatever a document holds, the driver either
// refuses it or sends a stream the printer reads back as that text: no
// text becomes a command.
func FuzzEncode(f *testing.F) {
	f.Add("老王面馆", "12.34", "pay-1", uint8(1), true)
	f.Add("Café ×2 €", "", "", uint8(0), false)
	f.Add("a\x1bp\x00", "\x1dV", "\xff", uint8(2), true)
	f.Add("\U0001F600 𠀀", "x", "é", uint8(3), false)
	f.Fuzz(func(t *testing.T, text, right, qr string, align uint8, big bool) {
		d := printer.Document{Lines: []printer.Line{{Text: text, Right: right, Align: printer.Align(align), Big: big}}}
		if qr != "" {
			d.Lines = append(d.Lines, printer.Line{QR: qr})
		}
		b, err := Encode(d, 32, 4, CutPartial)
		if err != nil {
			return
		}
		e := escposemu.New()
		if _, err := e.Feed(b); err != nil {
			t.Fatalf("%+v: the printer reads %v", d, err)
		}
		if err := e.End(); err != nil {
			t.Fatal(err)
		}
		s := e.State()
		if len(s.Slips) != 1 || len(s.Kicks) != 0 {
			t.Fatalf("%d slips, %d kicks", len(s.Slips), len(s.Kicks))
		}
		got := strings.Join(s.Slips[0].Lines(), "\n")
		if !strings.Contains(strings.ReplaceAll(got, "\n", ""), text) || !strings.Contains(got, right) {
			t.Fatalf("printed %q for %q, %q", got, text, right)
		}
		if qr != "" && !strings.Contains(got, "[QR "+qr+"]") {
			t.Fatalf("printed %q for the code %q", got, qr)
		}
	})
}

// FuzzOptions checks the options' checks: whatever they accept is
// something the driver can send.
func FuzzOptions(f *testing.F) {
	f.Add("/dev/ttyUSB0", "", 9600, 48, 6, "partial", 2, int64(50), int64(500))
	f.Add("", "printer", 0, 0, 0, "", 0, int64(0), int64(0))
	f.Add("", "[::1]:9100", -1, 1<<40, 17, "half", 3, int64(-1), int64(1<<40))
	f.Fuzz(func(t *testing.T, port, addr string, baud, cols, qr int, cut string, pin int, on, off int64) {
		o := Options{Port: port, Address: addr, Baud: baud, Columns: cols, QRSize: qr, Cut: cut,
			Drawer: DrawerOptions{Pin: pin, On: time.Duration(on), Off: time.Duration(off)}}
		if o.defaults() != nil {
			return
		}
		if (o.Port == "") == (o.Address == "") || o.Baud <= 0 || o.Columns <= 0 || o.QRSize < 1 || o.QRSize > 16 ||
			(o.Drawer.Pin != 2 && o.Drawer.Pin != 5) || o.Timeout <= 0 {
			t.Fatalf("accepted %+v", o)
		}
		k := AppendKick(nil, Pin2, int(o.Drawer.On.Milliseconds()), int(o.Drawer.Off.Milliseconds()))
		if k[3] == 0 || k[4] == 0 {
			t.Fatalf("kick % x from %+v", k, o.Drawer)
		}
	})
}
