// Package ssd1306 drives the customer-facing QR display when it is a small
// monochrome OLED panel on an SSD1306 controller (128x64 or 128x32, I²C),
// through periph.io's driver periph.io/x/devices/v3/ssd1306.
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
package ssd1306

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	oled "periph.io/x/devices/v3/ssd1306"
	"periph.io/x/devices/v3/ssd1306/image1bit"
	"periph.io/x/host/v3"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/display/render"
)

func init() {
	device.Displays.Register("ssd1306", func(ctx context.Context, opts device.Options) (device.Display, error) {
		var o Options
		if err := opts.Decode(&o); err != nil {
			return nil, fmt.Errorf("ssd1306 options: %w", err)
		}
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

// Dev is an open SSD1306 panel showing device.Screen values.
type Dev struct {
	mu     sync.Mutex // serialises bus traffic
	oled   *oled.Dev
	conn   conn.Conn
	frame  *image1bit.VerticalLSB // the screen to show
	shown  []byte                 // what the controller's GDDRAM holds
	stale  bool                   // shown is unknown: send the whole frame
	size   image.Point
	closer i2c.BusCloser // the bus Open opened; nil when the caller owns it
	closed bool
}

// New initialises the panel on bus with o and returns it blank. The bus
// stays the caller's: Close does not close it.
func New(bus i2c.Bus, o Options) (*Dev, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if bus == nil {
		return nil, errors.New("ssd1306: nil bus")
	}
	// periph's driver always talks to 0x3C; the wrapper moves it to the
	// configured address.
	ab := &addrBus{Bus: bus, addr: o.Address}
	chip, err := oled.NewI2C(ab, &oled.Opts{
		W:                o.Width,
		H:                o.Height,
		MirrorVertical:   o.Rotated,
		MirrorHorizontal: o.Rotated,
		Sequential:       o.Sequential,
	})
	if err != nil {
		return nil, fmt.Errorf("ssd1306: init at %#x on %s: %w", o.Address, bus, err)
	}
	d := &Dev{
		oled:  chip,
		conn:  &i2c.Dev{Bus: bus, Addr: o.Address},
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

// Bounds is the panel's size.
func (d *Dev) Bounds() image.Rectangle { return image.Rectangle{Max: d.size} }

// Show draws s. Only the pages and columns that changed since the last
// screen go on the bus. If s cannot be rendered (a payload too big for the
// panel, say), the panel is blanked and the error returned: a customer must
// never be left scanning the previous screen's code.
//
// An I²C frame takes about 25 ms at 400 kHz and cannot be interrupted; ctx
// is checked before it starts.
func (d *Dev) Show(ctx context.Context, s device.Screen) error {
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
	window := []byte{i2cCmd, 0x21, byte(c0), byte(c1 - 1), 0x22, byte(p0), byte(p1 - 1)}
	if err := d.conn.Tx(window, nil); err != nil {
		return fmt.Errorf("set window: %w", err)
	}
	// One transaction a page keeps each under 129 bytes, which every I²C
	// adapter takes.
	buf := make([]byte, 1+c1-c0)
	buf[0] = i2cData
	for p := p0; p < p1; p++ {
		copy(buf[1:], next[p*w+c0:p*w+c1])
		if err := d.conn.Tx(buf, nil); err != nil {
			return fmt.Errorf("page %d: %w", p, err)
		}
	}
	copy(d.shown, next)
	d.stale = false
	return nil
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
