package escpos

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/guichet/guichet/device/devicetest"
	"github.com/guichet/guichet/device/printer"
	"github.com/guichet/guichet/internal/escposemu"
)

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, printer.Drivers, "escpos", []devicetest.OptionCase{
		{Name: "unknown field", Options: "prot: /dev/ttyUSB0", Path: "options.prot", Reason: "unknown field"},
		{Name: "wrong type", Options: "baud: fast", Path: "options.baud", Reason: "cannot unmarshal"},
		{Name: "nested unknown", Options: "port: /dev/null\ndrawer: {pinn: 5}", Path: "options.drawer.pinn", Reason: "unknown field"},
		{Name: "nested wrong type", Options: "port: /dev/null\ndrawer: {on: long}", Path: "options.drawer.on", Reason: "cannot unmarshal"},
		{Name: "duration", Options: "timeout: soon", Path: "options.timeout", Reason: "cannot unmarshal"},
		{Name: "valid, no printer here", Options: "port: /dev/h8-no-such-printer\nbaud: 19200\ncolumns: 32\nqr_size: 5\ncut: full\ndrawer: {pin: 5, on: 100ms, off: 200ms}\nstatus: true\ntimeout: 2s"},
		{Name: "empty", Options: ""},
	})
}

func TestOptionsChecked(t *testing.T) {
	for _, o := range []Options{
		{},
		{Port: "/dev/ttyUSB0", Address: "printer:9100"},
		{Port: "/dev/ttyUSB0", QRSize: 17},
		{Port: "/dev/ttyUSB0", Cut: "half"},
		{Port: "/dev/ttyUSB0", Drawer: DrawerOptions{Pin: 3}},
		{Port: "/dev/ttyUSB0", Drawer: DrawerOptions{On: time.Second}},
		{Port: "/dev/ttyUSB0", Baud: -1},
	} {
		if err := o.defaults(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	o := Options{Address: "192.0.2.7"}
	if err := o.defaults(); err != nil || o.Address != "192.0.2.7:9100" || o.Columns != 48 || o.Drawer.Pin != 2 {
		t.Fatalf("defaults %+v, %v", o, err)
	}
}

// receipt holds what a receipt prints: a name in Chinese, an address,
// amount lines laid out in columns, a promotion, the masked code and the
// QR code of its reference.
var receipt = printer.Document{Lines: []printer.Line{
	{Text: "老王面馆", Align: printer.Center, Bold: true, Big: true},
	{Text: "北京市东城区东四北大街 107 号", Align: printer.Center},
	{Text: "牛肉面 ×2", Right: "36.00"},
	{Text: "Promo -10 %", Right: "-3.60"},
	{Text: "付款码", Right: "**************6780"},
	{Text: "合计 CNY", Right: "32.40", Bold: true, Big: true},
	{QR: "pay-0190c1d2e3f4a-5b6c7d8e9f00"},
	{Text: "谢谢惠顾", Align: printer.Center},
}}

var wantLines = []string{
	"老王面馆",
	"北京市东城区东四北大街 107 号",
	"牛肉面 ×2                                 36.00",
	"Promo -10 %                                -3.60",
	"付款码                        **************6780",
	"合计 CNY           32.40",
	"[QR pay-0190c1d2e3f4a-5b6c7d8e9f00]",
	"", // the line feed after the code
	"谢谢惠顾",
}

func checkSlip(t *testing.T, s escposemu.Slip) {
	t.Helper()
	got := s.Lines()
	if len(got) != len(wantLines) {
		t.Fatalf("printed %d lines %q, want %q", len(got), got, wantLines)
	}
	for i := range wantLines {
		if got[i] != wantLines[i] {
			t.Errorf("line %d: %q, want %q", i, got[i], wantLines[i])
		}
	}
	if s.Cut != CutPartial {
		t.Errorf("cut %d, want a partial cut", s.Cut)
	}
	if it := s.Items[5]; !it.Bold || it.Width != 2 || it.Height != 2 {
		t.Errorf("total printed %+v, want bold at double size", it)
	}
	img, err := escposemu.Render(s, escposemu.Dots80)
	if err != nil {
		t.Fatal(err)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil || res.GetText() != receipt.Lines[6].QR {
		t.Fatalf("QR on paper: %v, %v", res, err)
	}
}

// TestAtTheWireOverSerial prints a receipt through a pseudo-terminal, as
// on a serial line or a USB serial adapter, to the emulator, and opens
// the drawer.
func TestAtTheWireOverSerial(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := escposemu.New()
	pt, err := e.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	p, err := Open(ctx, Options{Port: pt.Path, Baud: 115200, Status: true, Drawer: DrawerOptions{Pin: 5, On: 100 * time.Millisecond, Off: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Print(ctx, receipt); err != nil {
		t.Fatal(err)
	}
	if st, err := p.Status(ctx); err != nil || st.DrawerOpen || st.PaperOut {
		t.Fatalf("status before the kick: %+v, %v", st, err)
	}
	if err := p.OpenDrawer(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := e.Wait(ctx, func(s escposemu.State) bool { return len(s.Slips) == 1 && len(s.Kicks) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	checkSlip(t, s.Slips[0])
	if k := s.Kicks[0]; k != (escposemu.Kick{Pin: 5, On: 100 * time.Millisecond, Off: 200 * time.Millisecond}) {
		t.Fatalf("kick %+v", k)
	}
	// The status byte is read back through the terminal.
	if st, err := p.Status(ctx); err != nil || !st.DrawerOpen {
		t.Fatalf("status after the kick: %+v, %v", st, err)
	}

	e.SetPaperOut(true)
	if err := p.Print(ctx, receipt); !errors.Is(err, ErrPaperOut) {
		t.Fatalf("out of paper: %v", err)
	}
	e.SetPaperOut(false)
	if err := p.Print(ctx, printer.Document{Lines: []printer.Line{{Text: "x\x1bp\x00"}}}); !errors.Is(err, printer.ErrInvalid) {
		t.Fatalf("control character: %v", err)
	}
	if s := e.State(); len(s.Slips) != 1 || s.Err != nil {
		t.Fatalf("printed %d slips, error %v", len(s.Slips), s.Err)
	}
}

// TestAtTheWireOverTCP prints to a network printer's port 9100, and again
// on a new connection, then opens the drawer.
func TestAtTheWireOverTCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := escposemu.New()
	served := make(chan error, 1)
	sctx, stop := context.WithCancel(ctx)
	go func() { served <- e.ServeTCP(sctx, l) }()
	defer func() {
		stop()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	p, err := Open(ctx, Options{Address: l.Addr().String(), Cut: "full"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Print(ctx, receipt); err != nil {
		t.Fatal(err)
	}
	// The link closed, as after a failed exchange: the next print
	// connects again.
	p.Close()
	if err := p.Print(ctx, receipt); err != nil {
		t.Fatal(err)
	}
	// The drawer on a network printer's kick connector, default pulse.
	if err := p.OpenDrawer(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := e.Wait(ctx, func(s escposemu.State) bool { return len(s.Slips) == 2 && len(s.Kicks) == 1 })
	if err != nil {
		t.Fatal(err)
	}
	if k := s.Kicks[0]; k != (escposemu.Kick{Pin: 2, On: 50 * time.Millisecond, Off: 500 * time.Millisecond}) {
		t.Fatalf("kick over TCP %+v", k)
	}
	if s.Slips[1].Cut != CutFull {
		t.Fatalf("cut %d, want full", s.Slips[1].Cut)
	}
	s.Slips[1].Cut = CutPartial
	checkSlip(t, s.Slips[1])
}

// TestCancelled checks a print cancelled before it starts sends nothing.
func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := escposemu.New()
	pt, err := e.ServePTY(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pt.Close()
	p, err := Open(ctx, Options{Port: pt.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done, stop := context.WithCancel(ctx)
	stop()
	if err := p.Print(done, receipt); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled print: %v", err)
	}
	// The link was closed; the next print reopens it.
	if err := p.Print(ctx, receipt); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Wait(ctx, func(s escposemu.State) bool { return len(s.Slips) >= 1 }); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeIsStrictESCPOS(t *testing.T) {
	b, err := Encode(receipt, 48, 6, CutPartial)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte{ESC, '@'}) || !bytes.HasSuffix(b, []byte{GS, 'V', CutPartial, 0}) {
		t.Fatalf("starts % x, ends % x", b[:2], b[len(b)-4:])
	}
	e := escposemu.New()
	if _, err := e.Feed(b); err != nil {
		t.Fatal(err)
	}
	if err := e.End(); err != nil {
		t.Fatal(err)
	}
	checkSlip(t, e.State().Slips[0])
}

func TestAppendTextRefuses(t *testing.T) {
	for _, c := range []struct {
		s    string
		want error
	}{
		{"a\x1bp", ErrControl},
		{"a\u0085", ErrControl},
		{"\x7f", ErrControl},
		{"\ue746", ErrUnprintable}, // shares its GB18030 bytes with U+F75A
	} {
		if _, err := AppendText(nil, c.s); !errors.Is(err, c.want) {
			t.Errorf("%q: %v, want %v", c.s, err, c.want)
		}
	}
	b, err := AppendText(nil, "中 é")
	if err != nil || !bytes.Equal(b, []byte{FS, '&', 0xd6, 0xd0, ' ', 0xa8, 0xa6, FS, '.', LF}) {
		t.Fatalf("% x, %v", b, err)
	}
}
