package ssd1306

import (
	"bytes"
	"context"
	"errors"
	"image"
	"strings"
	"sync"
	"testing"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/device/display/render"
)

// dcPin is the D/C# line: a fake output that remembers its level. It
// embeds gpio.INVALID only for the methods the driver never calls.
type dcPin struct {
	gpio.PinIO
	mu sync.Mutex
	L  gpio.Level
}

func newDC() *dcPin { return &dcPin{PinIO: gpio.INVALID} }

func (p *dcPin) Name() string { return "DC" }

func (p *dcPin) Out(l gpio.Level) error {
	p.mu.Lock()
	p.L = l
	p.mu.Unlock()
	return nil
}

// spiPanel is the panel model behind a 4-wire SPI port: the level of the
// D/C# line, when a transfer happens, says whether it carries commands or
// display data (datasheet section 8.1.3).
type spiPanel struct {
	*panel
	dc       *dcPin
	connects int
	speed    physic.Frequency
	mode     spi.Mode
	bits     int
	fail     bool
}

func (s *spiPanel) String() string { return "spipanel" }

func (s *spiPanel) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	s.connects++
	s.speed, s.mode, s.bits = f, mode, bits
	return s, nil
}

func (s *spiPanel) Duplex() conn.Duplex { return conn.Half }

func (s *spiPanel) TxPackets([]spi.Packet) error { return errors.New("spipanel: packets unused") }

func (s *spiPanel) Tx(w, r []byte) error {
	if s.fail {
		return errors.New("spipanel: wire cut")
	}
	s.dc.mu.Lock()
	l := s.dc.L
	s.dc.mu.Unlock()
	ctl := byte(0x00)
	if l == gpio.High {
		ctl = 0x40
	}
	return s.panel.Tx(DefaultAddress, append([]byte{ctl}, w...), r)
}

func TestSPI(t *testing.T) {
	pn := &spiPanel{panel: newPanel(128, 64), dc: newDC()}
	for i := range pn.ram {
		pn.ram[i] = 0xFF
	}
	d, err := NewSPI(pn, pn.dc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pn.connects != 1 || pn.bits != 8 || pn.mode != spi.Mode0 || pn.speed > 10*physic.MegaHertz {
		t.Fatalf("connected %d times at %s mode %v %d bits", pn.connects, pn.speed, pn.mode, pn.bits)
	}
	if !pn.on || bytes.Count(pn.ram, []byte{0}) != len(pn.ram) {
		t.Fatal("NewSPI did not leave the panel on and clear")
	}
	for _, s := range []display.Screen{payScreen, paidScreen, {QR: "G42"}} {
		if err := d.Show(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		img, err := render.Screen(s, image.Pt(128, 64))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pn.ram, packed(img)) {
			t.Fatalf("after %+v GDDRAM differs from the rendered image", s)
		}
	}
	pn.fail = true
	if err := d.Show(context.Background(), payScreen); err == nil || !strings.Contains(err.Error(), "wire cut") {
		t.Fatalf("show on a cut wire: %v", err)
	}
	pn.fail = false
	// After a failed transfer the next screen goes whole.
	if err := d.Show(context.Background(), paidScreen); err != nil {
		t.Fatal(err)
	}
	img, _ := render.Screen(paidScreen, image.Pt(128, 64))
	if !bytes.Equal(pn.ram, packed(img)) {
		t.Fatal("GDDRAM wrong after recovering from a failed transfer")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if pn.on {
		t.Fatal("panel on after Close")
	}
}

func TestSPIOptions(t *testing.T) {
	pn := &spiPanel{panel: newPanel(128, 64), dc: newDC()}
	tests := []struct {
		o    Options
		want string
	}{
		{Options{SPI: "/dev/spidev0.0"}, "spi needs dc"},
		{Options{DC: "GPIO25"}, "dc is set without spi"},
		{Options{SPI: "/dev/spidev0.0", DC: "GPIO25", Bus: "1"}, "choose one"},
		{Options{SPI: "/dev/spidev0.0", DC: "GPIO25", Address: 0x3D}, "choose one"},
	}
	for _, tt := range tests {
		if _, err := Open(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%+v) = %v, want an error about %q", tt.o, err, tt.want)
		}
	}
	if _, err := NewSPI(pn, nil, Options{}); err == nil {
		t.Error("NewSPI without a D/C# line succeeded")
	}
	if _, err := NewSPI(nil, pn.dc, Options{}); err == nil {
		t.Error("NewSPI without a port succeeded")
	}
	if _, err := New(pn.panel, Options{SPI: "x", DC: "y"}); err == nil {
		t.Error("New with SPI options succeeded")
	}
	// A missing line or port is a clear error on any machine.
	if _, err := Open(Options{SPI: "/dev/spidev9.9", DC: "NO_SUCH_LINE"}); err == nil || !strings.Contains(err.Error(), `no GPIO line "NO_SUCH_LINE"`) {
		t.Errorf("open with a missing dc line: %v", err)
	}
	if pn.connects != 0 {
		t.Errorf("refused options connected the port %d times", pn.connects)
	}
}
