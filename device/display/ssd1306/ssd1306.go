// Package ssd1306 drives the customer-facing QR display when it is a small
// monochrome OLED panel on an SSD1306 controller (128x64 or 128x32, on I²C
// or 4-wire SPI), through periph.io's driver periph.io/x/devices/v3/ssd1306.
//
// Screens are drawn by package render, so the panel shows exactly the
// golden images tested there. periph's driver initialises the controller,
// in horizontal addressing mode, and switches it off; frames are sent by
// this package. periph positions its partial updates with the commands
// B0h-B7h and 00h-1Fh, which the datasheet defines for page addressing mode
// only, so a controller that follows the datasheet would put a partial
// update in the wrong place, and a payment code would not scan. Here a frame
// sets its window with Set Column Address (21h) and Set Page Address (22h),
// which are defined for horizontal addressing, and sends only the pages and
// columns that changed. The driver registers as display driver
// "ssd1306"; its options are:
//
//	bus: ""          # periph I²C bus name or number; "" is the first bus
//	address: 0x3C    # 0x3C, or 0x3D when the panel's SA0 pin is high
//	width: 128       # 8 to 128, a multiple of 8
//	height: 64       # 8 to 64, a multiple of 8
//	rotated: false   # panel mounted upside down
//	sequential: false # COM pins sequential; set for most 128x32 panels
//	spi: ""          # SPI port name (e.g. /dev/spidev0.0) for a 4-wire SPI panel
//	dc: ""           # the GPIO line on the panel's D/C# pin, with spi
//
// With spi set, the panel is on SPI and bus and address do not apply.
// 3-wire SPI (no D/C# line) is not supported, as periph's driver does not
// support it, and the RES# pin is left to the board (pulled up).
package ssd1306

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"sync"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	oled "periph.io/x/devices/v3/ssd1306"
	"periph.io/x/devices/v3/ssd1306/image1bit"
	"periph.io/x/host/v3"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/device/display/render"
)

func init() {
	device.Register(display.Drivers, "ssd1306", func(ctx context.Context, o Options) (display.Display, error) {
		return Open(o)
	})
}

// Options configure the panel. Zero values take the defaults of the usual
// 0.96" module: first bus, address 0x3C, 128x64.
type Options struct {
	// Bus names the I²C bus as periph's i2creg knows it ("1", "I2C1",
	// "/dev/i2c-1"); empty is the first bus found.
	Bus string `yaml:"bus"`
	// Address is the 7-bit I²C slave address: 0x3C, or 0x3D when SA0 is
	// tied high (SSD1306 datasheet section 8.1.5).
	Address uint16 `yaml:"address"`
	// Width and Height are the panel's size in pixels.
	Width  int `yaml:"width"`
	Height int `yaml:"height"`
	// Rotated turns the picture by 180° for a panel mounted upside down, by
	// the commands Set Segment Re-map (A0h) and Set COM Output Scan
	// Direction (C0h) of the SSD1306 datasheet's command table.
	Rotated bool `yaml:"rotated"`
	// Sequential selects the sequential COM pin configuration (command
	// Set COM Pins Hardware Configuration, DAh); 128x32 modules are usually
	// wired so.
	Sequential bool `yaml:"sequential"`
	// SPI names the SPI port as periph's spireg knows it, for a panel in
	// 4-wire SPI mode (datasheet section 8.1.3); empty for I²C.
	SPI string `yaml:"spi"`
	// DC names the GPIO line wired to the panel's D/C# pin, as periph's
	// gpioreg knows it ("GPIO25"); required with SPI.
	DC string `yaml:"dc"`
}

// Default values of Options.
const (
	DefaultAddress = 0x3C
	DefaultWidth   = 128
	DefaultHeight  = 64
)

// withDefaults fills in zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Address == 0 {
		o.Address = DefaultAddress
	}
	if o.Width == 0 {
		o.Width = DefaultWidth
	}
	if o.Height == 0 {
		o.Height = DefaultHeight
	}
	if o.SPI != "" && (o.Bus != "" || o.Address != DefaultAddress) {
		return o, errors.New("ssd1306: spi and an I2C bus or address are both set; choose one")
	}
	if o.SPI != "" && o.DC == "" {
		return o, errors.New("ssd1306: spi needs dc, the GPIO line on the panel's D/C# pin (3-wire SPI is not supported)")
	}
	if o.SPI == "" && o.DC != "" {
		return o, errors.New("ssd1306: dc is set without spi")
	}
	if o.Address != 0x3C && o.Address != 0x3D {
		return o, fmt.Errorf("ssd1306: address %#x: the controller answers only at 0x3c or 0x3d", o.Address)
	}
	// The controller has 128 segments and 64 commons, addressed in pages of
	// 8 rows (datasheet section 8.7).
	if o.Width < 8 || o.Width > 128 || o.Width%8 != 0 {
		return o, fmt.Errorf("ssd1306: width %d: want 8 to 128, a multiple of 8", o.Width)
	}
	if o.Height < 8 || o.Height > 64 || o.Height%8 != 0 {
		return o, fmt.Errorf("ssd1306: height %d: want 8 to 64, a multiple of 8", o.Height)
	}
	return o, nil
}

// Dev is an open SSD1306 panel showing display.Screen values.
type Dev struct {
	mu     sync.Mutex // serialises bus traffic
	oled   *oled.Dev
	conn   conn.Conn
	dc     gpio.PinOut            // D/C# on SPI; nil on I²C
	frame  *image1bit.VerticalLSB // the screen to show
	shown  []byte                 // what the controller's GDDRAM holds
	stale  bool                   // shown is unknown: send the whole frame
	size   image.Point
	closer io.Closer // the bus or port Open opened; nil when the caller owns it
	closed bool
}

// New initialises the panel on the I²C bus with o and returns it blank.
// The bus stays the caller's: Close does not close it.
func New(bus i2c.Bus, o Options) (*Dev, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.SPI != "" {
		return nil, errors.New("ssd1306: New is for I2C; use NewSPI")
	}
	if bus == nil {
		return nil, errors.New("ssd1306: nil bus")
	}
	// periph's driver always talks to 0x3C; the wrapper moves it to the
	// configured address.
	chip, err := oled.NewI2C(&addrBus{Bus: bus, addr: o.Address}, o.periph())
	if err != nil {
		return nil, fmt.Errorf("ssd1306: init at %#x on %s: %w", o.Address, bus, err)
	}
	return newDev(chip, &i2c.Dev{Bus: bus, Addr: o.Address}, nil, o)
}

// NewSPI initialises the panel on an SPI port in 4-wire mode, dc driving
// its D/C# pin, and returns it blank. The port stays the caller's.
func NewSPI(port spi.Port, dc gpio.PinOut, o Options) (*Dev, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if port == nil || dc == nil || dc == gpio.INVALID {
		return nil, errors.New("ssd1306: NewSPI needs a port and a D/C# line")
	}
	// periph's driver connects the port itself, once, as the spi.Port
	// contract requires; the wrapper keeps the connection for the frames.
	cp := &connPort{Port: port}
	chip, err := oled.NewSPI(cp, dc, o.periph())
	if err != nil {
		return nil, fmt.Errorf("ssd1306: init on %s: %w", port, err)
	}
	return newDev(chip, cp.conn, dc, o)
}

func (o Options) periph() *oled.Opts {
	return &oled.Opts{
		W:                o.Width,
		H:                o.Height,
		MirrorVertical:   o.Rotated,
		MirrorHorizontal: o.Rotated,
		Sequential:       o.Sequential,
	}
}

func newDev(chip *oled.Dev, c conn.Conn, dc gpio.PinOut, o Options) (*Dev, error) {
	d := &Dev{
		oled:  chip,
		conn:  c,
		dc:    dc,
		size:  image.Pt(o.Width, o.Height),
		frame: image1bit.NewVerticalLSB(image.Rect(0, 0, o.Width, o.Height)),
		shown: make([]byte, o.Width*o.Height/8),
		stale: true,
	}
	// The controller's RAM holds whatever it held before a restart (perhaps
	// an old payment code): clear it before the first screen.
	if err := d.draw(); err != nil {
		return nil, fmt.Errorf("ssd1306: clear: %w", err)
	}
	return d, nil
}

// Open initialises periph's host drivers, opens the I²C bus o.Bus and the
// panel on it. Close closes the bus too.
func Open(o Options) (*Dev, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("ssd1306: periph host init: %w", err)
	}
	if o.SPI != "" {
		return openSPI(o)
	}
	bus, err := i2creg.Open(o.Bus)
	if err != nil {
		return nil, fmt.Errorf("ssd1306: open I2C bus %q: %w", o.Bus, err)
	}
	// Fast mode, the most the controller accepts (datasheet's I²C timing:
	// clock cycle time 2.5 µs).
	if err := bus.SetSpeed(400 * physic.KiloHertz); err != nil {
		slog.Warn("ssd1306: cannot set bus speed, keeping the default", "bus", bus.String(), "err", err)
	}
	d, err := New(bus, o)
	if err != nil {
		bus.Close()
		return nil, err
	}
	d.closer = bus
	slog.Info("ssd1306: panel ready", "bus", bus.String(), "address", fmt.Sprintf("%#x", o.Address), "width", o.Width, "height", o.Height)
	return d, nil
}

func openSPI(o Options) (*Dev, error) {
	dc := gpioreg.ByName(o.DC)
	if dc == nil {
		return nil, fmt.Errorf("ssd1306: no GPIO line %q for dc", o.DC)
	}
	port, err := spireg.Open(o.SPI)
	if err != nil {
		return nil, fmt.Errorf("ssd1306: open SPI port %q: %w", o.SPI, err)
	}
	d, err := NewSPI(port, dc, o)
	if err != nil {
		port.Close()
		return nil, err
	}
	d.closer = port
	slog.Info("ssd1306: panel ready", "spi", port.String(), "dc", dc.Name(), "width", o.Width, "height", o.Height)
	return d, nil
}

// Bounds is the panel's size.
func (d *Dev) Bounds() image.Rectangle { return image.Rectangle{Max: d.size} }

// Show draws s. Only the pages and columns that changed since the last
// screen go on the bus. If s cannot be rendered (a payload too big for the
// panel, say), the panel is blanked and the error returned: a customer must
// never be left scanning the previous screen's code.
//
// A payment screen takes about 21 ms on a 400 kHz I²C bus (BenchmarkShow)
// and cannot be interrupted; ctx is checked before it starts.
func (d *Dev) Show(ctx context.Context, s display.Screen) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ssd1306: show: %w", err)
	}
	img, rerr := render.Screen(s, d.size)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("ssd1306: show on closed display")
	}
	if rerr != nil {
		clear(d.frame.Pix)
	} else {
		pack(d.frame, img)
	}
	if err := d.draw(); err != nil {
		return fmt.Errorf("ssd1306: show: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("ssd1306: panel blanked: %w", rerr)
	}
	return nil
}

// draw sends the smallest window of pages and columns of d.frame that
// differs from what the controller holds; d.mu is held or d not yet shared.
func (d *Dev) draw() error {
	w, pages := d.size.X, d.size.Y/8
	next := d.frame.Pix
	p0, p1, c0, c1 := 0, pages, 0, w
	if !d.stale {
		for p0 < p1 && bytes.Equal(d.shown[p0*w:(p0+1)*w], next[p0*w:(p0+1)*w]) {
			p0++
		}
		if p0 == p1 {
			return nil
		}
		for bytes.Equal(d.shown[(p1-1)*w:p1*w], next[(p1-1)*w:p1*w]) {
			p1--
		}
		for ; sameColumn(d.shown, next, w, p0, p1, c0); c0++ {
		}
		for ; sameColumn(d.shown, next, w, p0, p1, c1-1); c1-- {
		}
	}
	// Whatever happens on the bus from here, GDDRAM may hold part of the
	// window: until a frame gets through whole, send whole frames.
	d.stale = true
	// Horizontal addressing mode: the pointer runs across the window's
	// columns, then on to the next page (datasheet section 10.1.3).
	if err := d.command(0x21, byte(c0), byte(c1-1), 0x22, byte(p0), byte(p1-1)); err != nil {
		return fmt.Errorf("set window: %w", err)
	}
	// One transaction a page keeps each under 129 bytes, which every I²C
	// adapter takes.
	for p := p0; p < p1; p++ {
		if err := d.data(next[p*w+c0 : p*w+c1]); err != nil {
			return fmt.Errorf("page %d: %w", p, err)
		}
	}
	copy(d.shown, next)
	d.stale = false
	return nil
}

// command sends a stream of command bytes: behind control byte 00h on
// I²C (datasheet section 8.1.5), with D/C# low on SPI (section 8.1.3).
func (d *Dev) command(c ...byte) error {
	if d.dc == nil {
		return d.conn.Tx(append([]byte{i2cCmd}, c...), nil)
	}
	if err := d.dc.Out(gpio.Low); err != nil {
		return fmt.Errorf("D/C# low: %w", err)
	}
	return d.conn.Tx(c, nil)
}

// data sends display data: behind control byte 40h on I²C, with D/C# high
// on SPI.
func (d *Dev) data(b []byte) error {
	if d.dc == nil {
		return d.conn.Tx(append([]byte{i2cData}, b...), nil)
	}
	if err := d.dc.Out(gpio.High); err != nil {
		return fmt.Errorf("D/C# high: %w", err)
	}
	return d.conn.Tx(b, nil)
}

// sameColumn reports whether column c of pages p0 to p1-1 is the same in a
// and b, page-format buffers w bytes a page.
func sameColumn(a, b []byte, w, p0, p1, c int) bool {
	for p := p0; p < p1; p++ {
		if a[p*w+c] != b[p*w+c] {
			return false
		}
	}
	return true
}

// Control bytes of an I²C transaction (datasheet section 8.1.5): Co = 0,
// D/C# = 0 for a stream of commands, 1 for a stream of display data.
const (
	i2cCmd  = 0x00
	i2cData = 0x40
)

// Close switches the panel off (command Set Display OFF, AEh), so that a
// stopped appliance shows no stale code, and closes the bus if Open opened
// it.
func (d *Dev) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	err := d.oled.Halt()
	if err != nil {
		err = fmt.Errorf("ssd1306: display off: %w", err)
	}
	if d.closer != nil {
		if cerr := d.closer.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("ssd1306: close bus: %w", cerr)
		}
	}
	return err
}

// pack sets dst from src, lit pixels on: dst is the controller's GDDRAM
// layout, one byte per column per page of 8 rows, least significant bit on
// top (datasheet section 8.7).
func pack(dst *image1bit.VerticalLSB, src *image.Gray) {
	clear(dst.Pix)
	r := dst.Rect.Intersect(src.Rect)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := src.Pix[src.PixOffset(r.Min.X, y):]
		for x := r.Min.X; x < r.Max.X; x++ {
			if row[x-r.Min.X] >= 0x80 {
				dst.SetBit(x, y, image1bit.On)
			}
		}
	}
}

// addrBus sends every transaction to addr, whatever address the driver
// above asks for.
type addrBus struct {
	i2c.Bus
	addr uint16
}

// Tx implements i2c.Bus.
func (b *addrBus) Tx(_ uint16, w, r []byte) error { return b.Bus.Tx(b.addr, w, r) }

// connPort keeps the connection its one Connect returns.
type connPort struct {
	spi.Port
	conn spi.Conn
}

// Connect implements spi.Port.
func (p *connPort) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	c, err := p.Port.Connect(f, mode, bits)
	p.conn = c
	return c, err
}
