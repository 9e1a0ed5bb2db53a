// Package escpos speaks ESC/POS, the command language of thermal receipt
// printers (Epson's, and the many that copy it), and is the printer
// driver "escpos".
//
// wire.go encodes the commands the driver uses, free of the rest of the
// module: ESC @ (initialise), ESC a (alignment), ESC E (bold), GS !
// (character size), FS & and FS . (Chinese mode on and off, text in
// GB18030), GS ( k (QR code), GS V (cut), ESC p (drawer kick) and DLE EOT
// (real-time status). The driver lays a printer.Document out with them
// and sends it over a serial line (a built-in port or a USB serial
// adapter, /dev/ttyS0, /dev/ttyUSB0, /dev/ttyACM0), a USB printer-class
// device (/dev/usb/lp0, written as a file) or TCP, the "raw" port 9100 of
// network printers.
//
// internal/escposemu is the printer on the other end in tests: it parses
// what the driver sends and renders the slip to a PNG image.
package escpos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/printer"
)

func init() {
	device.Register(printer.Drivers, "escpos", func(ctx context.Context, o Options) (printer.Printer, error) {
		return Open(ctx, o)
	})
}

// Options configure the "escpos" driver. Exactly one of Port and Address
// is set.
type Options struct {
	// Port is a serial device (/dev/ttyS0, /dev/ttyUSB0, /dev/ttyACM0) or
	// a USB printer-class device (/dev/usb/lp0).
	Port string `yaml:"port"`
	// Baud is the serial line's speed; default 9600. It must match the
	// printer's (its DIP switches; the self-test page prints it).
	Baud int `yaml:"baud"`
	// Address is a network printer's host:port; the port defaults to
	// 9100, the raw printing port.
	Address string `yaml:"address"`
	// Columns is the number of characters of font A (12x24 dots) on a
	// line: 48 on 80 mm paper (the default), 32 on 58 mm.
	Columns int `yaml:"columns"`
	// QRSize is a QR code's module size in dots, 1 to 16; default 6, a
	// code about 25 mm wide for a receipt reference at 203 dpi.
	QRSize int `yaml:"qr_size"`
	// Cut is "partial" (the default: a hinge is left, the slip does not
	// fall), "full" or "none" (a printer without a cutter).
	Cut string `yaml:"cut"`
	// Drawer is the cash drawer's pulse.
	Drawer DrawerOptions `yaml:"drawer"`
	// Status asks the printer its paper status before each slip (DLE EOT
	// 4) and refuses to print when it is out, so the cashier is told. A
	// USB printer-class device does not answer here: leave it off.
	Status bool `yaml:"status"`
	// Timeout bounds connecting and each exchange; default 5 s.
	Timeout time.Duration `yaml:"timeout"`
}

// DrawerOptions describe the pulse that opens the cash drawer.
type DrawerOptions struct {
	// Pin is the drawer kick connector's pin: 2 (the default) or 5.
	Pin int `yaml:"pin"`
	// On and Off are the pulse's times; defaults 50 ms and 500 ms, which
	// the common 24 V solenoids take. The printer counts in 2 ms units,
	// up to 510 ms.
	On  time.Duration `yaml:"on"`
	Off time.Duration `yaml:"off"`
}

// ErrPaperOut reports a printer that answered it has no paper.
var ErrPaperOut = errors.New("escpos: out of paper")

func (o *Options) defaults() error {
	switch {
	case (o.Port == "") == (o.Address == ""):
		return errors.New("escpos: set one of port and address")
	case o.Baud < 0 || o.Columns < 0 || o.Timeout < 0:
		return errors.New("escpos: negative baud, columns or timeout")
	case o.QRSize < 0 || o.QRSize > 16:
		return fmt.Errorf("escpos: qr_size %d, want 1 to 16", o.QRSize)
	case o.Drawer.Pin != 0 && o.Drawer.Pin != 2 && o.Drawer.Pin != 5:
		return fmt.Errorf("escpos: drawer pin %d, want 2 or 5", o.Drawer.Pin)
	case o.Drawer.On < 0 || o.Drawer.On > 510*time.Millisecond || o.Drawer.Off < 0 || o.Drawer.Off > 510*time.Millisecond:
		return errors.New("escpos: drawer on and off must be within 0 to 510 ms")
	}
	switch o.Cut {
	case "":
		o.Cut = "partial"
	case "partial", "full", "none":
	default:
		return fmt.Errorf("escpos: cut %q, want partial, full or none", o.Cut)
	}
	if o.Address != "" {
		if _, _, err := net.SplitHostPort(o.Address); err != nil {
			o.Address = net.JoinHostPort(o.Address, "9100")
		}
	}
	if o.Baud == 0 {
		o.Baud = 9600
	}
	if o.Columns == 0 {
		o.Columns = 48
	}
	if o.QRSize == 0 {
		o.QRSize = 6
	}
	if o.Drawer.Pin == 0 {
		o.Drawer.Pin = 2
	}
	if o.Drawer.On == 0 {
		o.Drawer.On = 50 * time.Millisecond
	}
	if o.Drawer.Off == 0 {
		o.Drawer.Off = 500 * time.Millisecond
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	return nil
}

// Printer is an ESC/POS printer. Its link is opened at Open, and again at
// the next call after it failed, so a printer switched off and on, or a
// network printer's dropped connection, recovers by itself.
type Printer struct {
	o    Options
	mu   sync.Mutex // serialises exchanges; guards link
	link io.ReadWriteCloser
}

// Open checks o and opens the link to the printer.
func Open(ctx context.Context, o Options) (*Printer, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	p := &Printer{o: o}
	if err := p.connect(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Printer) name() string {
	if p.o.Port != "" {
		return p.o.Port
	}
	return p.o.Address
}

func (p *Printer) connect(ctx context.Context) error {
	if p.link != nil {
		return nil
	}
	switch {
	case p.o.Address != "":
		d := net.Dialer{Timeout: p.o.Timeout}
		c, err := d.DialContext(ctx, "tcp", p.o.Address)
		if err != nil {
			return fmt.Errorf("escpos: %w", err)
		}
		p.link = c
	case !isTerminal(p.o.Port):
		// The usblp driver's device (/dev/usb/lp0, or a udev link to it
		// such as /dev/receipt-printer) is no terminal: no line settings.
		f, err := os.OpenFile(p.o.Port, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("escpos: %w", err)
		}
		p.link = f
	default:
		s, err := serial.Open(p.o.Port, &serial.Mode{BaudRate: p.o.Baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
		if err != nil {
			return fmt.Errorf("escpos: open %s: %w", p.o.Port, err)
		}
		if err := s.SetReadTimeout(p.o.Timeout); err != nil {
			s.Close()
			return fmt.Errorf("escpos: %s: %w", p.o.Port, err)
		}
		p.link = s
	}
	return nil
}

// isTerminal reports whether path is a terminal, a serial port whose line
// is set up, rather than a device written as a file. A path that cannot
// be opened counts as a terminal, for the serial port's own error.
func isTerminal(path string) bool {
	if strings.HasPrefix(path, "/dev/usb/lp") {
		return false
	}
	// Non-blocking: a serial port's open otherwise waits for its carrier.
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		return true
	}
	defer f.Close()
	_, err = unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// exchange writes b and, when reply is not nil, reads len(reply) bytes
// into it, within the timeout and ctx. A cancelled or failed exchange
// closes the link, whose state is then unknown; the next one reopens it.
func (p *Printer) exchange(ctx context.Context, b, reply []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	if err := p.connect(ctx); err != nil {
		return err
	}
	link := p.link
	if c, ok := link.(net.Conn); ok {
		dl, _ := ctx.Deadline()
		c.SetDeadline(dl)
	}
	// A serial write blocks while the printer holds the line busy (its
	// buffer full): closing the port is what ends it.
	stop := context.AfterFunc(ctx, func() { link.Close() })
	err := func() error {
		if _, err := link.Write(b); err != nil {
			return err
		}
		if reply != nil {
			if _, err := io.ReadFull(link, reply); err != nil {
				return err
			}
		}
		return nil
	}()
	if !stop() {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	if err != nil {
		link.Close()
		p.link = nil
		return fmt.Errorf("escpos: %s: %w", p.name(), err)
	}
	return nil
}

// Encode returns the bytes that print d: initialise, then each line, then
// the cut. Columns is the width of a line in font A; qrSize the module
// size in dots; cut CutFull, CutPartial, or 0 for none.
func Encode(d printer.Document, columns, qrSize int, cut byte) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	b := AppendInit(nil)
	var err error
	for _, l := range d.Lines {
		if l.QR != "" {
			b = AppendAlign(b, AlignCenter)
			if b, err = AppendQR(b, []byte(l.QR), qrSize, LevelM); err != nil {
				return nil, err
			}
			b = append(b, LF)
			continue
		}
		texts := []string{l.Text}
		align := byte(l.Align)
		if l.Right != "" {
			// The printer knows no columns: the layout pads with spaces.
			texts, align = printer.Layout(l, columns), AlignLeft
		}
		b = AppendAlign(b, align)
		b = AppendBold(b, l.Bold)
		if l.Big {
			b = AppendSize(b, 2, 2)
		} else {
			b = AppendSize(b, 1, 1)
		}
		for _, t := range texts {
			if b, err = AppendText(b, t); err != nil {
				return nil, err
			}
		}
	}
	b = AppendBold(AppendSize(AppendAlign(b, AlignLeft), 1, 1), false)
	if cut != 0 {
		b = AppendCut(b, cut, 0)
	} else {
		b = AppendFeed(b, 4) // past the tear bar
	}
	return b, nil
}

// Print prints d and cuts the paper, after checking the paper when
// Options.Status is set.
func (p *Printer) Print(ctx context.Context, d printer.Document) error {
	cut := map[string]byte{"partial": CutPartial, "full": CutFull, "none": 0}[p.o.Cut]
	b, err := Encode(d, p.o.Columns, p.o.QRSize, cut)
	if err != nil {
		return err
	}
	if p.o.Status {
		st, err := p.status(ctx, StatusPaper)
		if err != nil {
			return err
		}
		if st.PaperOut {
			return fmt.Errorf("escpos: %s: %w", p.name(), ErrPaperOut)
		}
	}
	return p.exchange(ctx, b, nil)
}

// OpenDrawer sends the drawer kick pulse.
func (p *Printer) OpenDrawer(ctx context.Context) error {
	pin := byte(Pin2)
	if p.o.Drawer.Pin == 5 {
		pin = Pin5
	}
	return p.exchange(ctx, AppendKick(nil, pin, int(p.o.Drawer.On.Milliseconds()), int(p.o.Drawer.Off.Milliseconds())), nil)
}

// Status asks the printer whether it has paper and whether the drawer is
// open (DLE EOT 4 and 1).
func (p *Printer) Status(ctx context.Context) (Status, error) {
	paper, err := p.status(ctx, StatusPaper)
	if err != nil {
		return Status{}, err
	}
	drawer, err := p.status(ctx, StatusPrinter)
	if err != nil {
		return Status{}, err
	}
	return Status{PaperOut: paper.PaperOut, DrawerOpen: drawer.DrawerOpen}, nil
}

func (p *Printer) status(ctx context.Context, n byte) (Status, error) {
	reply := make([]byte, 1)
	if err := p.exchange(ctx, AppendStatus(nil, n), reply); err != nil {
		return Status{}, err
	}
	return ParseStatus(n, reply[0])
}

// Close closes the link.
func (p *Printer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.link == nil {
		return nil
	}
	err := p.link.Close()
	p.link = nil
	return err
}
