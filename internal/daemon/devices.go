package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/device/gpio"
	"github.com/guichet/guichet/device/printer"

	// Drivers shipped with the appliance, registered by name; those that
	// need OpenCV or cgo are in drivers_*.go, by build tag.
	_ "github.com/guichet/guichet/device/cardreader/sam"
	_ "github.com/guichet/guichet/device/cardreader/sim"
	_ "github.com/guichet/guichet/device/codereader/scanner"
	_ "github.com/guichet/guichet/device/codereader/sim"
	_ "github.com/guichet/guichet/device/display/ssd1306"
	_ "github.com/guichet/guichet/device/gpio/cdev"
	_ "github.com/guichet/guichet/device/gpio/sim"
	_ "github.com/guichet/guichet/device/printer/escpos"
	_ "github.com/guichet/guichet/device/printer/sim"
)

// Devices are the opened devices.
type Devices struct {
	CodeReaders []codereader.Reader
	CardReader  cardreader.Reader
	Display     display.Display
	Lines       gpio.Lines
	// Printer is the receipt printer; nil when none is configured.
	Printer printer.Printer
	// Drawer opens the cash drawer, through the printer or a GPIO line;
	// nil when none is configured.
	Drawer printer.Drawer
	// Loaded are the devices opened, by their place in the configuration,
	// for the health board.
	Loaded []Outcome
	// readersSupervised says the code readers belong to the supervisor,
	// which closes them (and those it opened again) itself.
	readersSupervised bool
}

// Close closes every device.
func (d *Devices) Close() {
	for _, c := range d.CodeReaders {
		if !d.readersSupervised {
			c.Close()
		}
	}
	for _, c := range []io.Closer{d.CardReader, d.Display, d.Lines} {
		if c != nil {
			c.Close()
		}
	}
	if d.Printer != nil {
		d.Printer.Close()
	}
}

// Outcome is what became of one configured device, in the manner of
// periph's host.Init report: loaded, or failed with the reason.
type Outcome struct {
	// Field is the device's place in the configuration, such as
	// "devices.display".
	Field string
	// Driver is the driver's name; empty when none could be chosen.
	Driver string
	// Err is why the device failed, with its place in the configuration
	// ("devices.display.options.adress: unknown field"); nil when it
	// loaded.
	Err error
}

// String reads "loaded devices.display (ssd1306)" or "failed " and the
// reason.
func (o Outcome) String() string {
	if o.Err != nil {
		return "failed " + o.Err.Error()
	}
	return fmt.Sprintf("loaded %s (%s)", o.Field, o.Driver)
}

// pick returns the driver to use: the configured one, or "sim" when the
// hardware is simulated and nothing is configured.
func pick(hw string, d config.Driver, field string) (string, error) {
	if d.Driver != "" {
		return d.Driver, nil
	}
	if hw == "sim" {
		return "sim", nil
	}
	if hw == "" {
		return "", fmt.Errorf("%s.driver: must name a driver", field)
	}
	return "", fmt.Errorf("%s.driver: must name a driver when hardware is real", field)
}

// open opens one device of a kind from its registry and records the
// outcome. An unnamed driver falls back to "sim" for simulated hardware.
func open[T any](ctx context.Context, r *device.Registry[T], hw, field string, d config.Driver, outs *[]Outcome) (T, bool) {
	var zero T
	name, err := pick(hw, d, field)
	if err != nil {
		*outs = append(*outs, Outcome{Field: field, Err: err})
		return zero, false
	}
	dev, err := r.Open(ctx, name, &d.Options)
	if err != nil {
		*outs = append(*outs, Outcome{Field: field, Driver: name, Err: device.At(field, err)})
		return zero, false
	}
	*outs = append(*outs, Outcome{Field: field, Driver: name})
	return dev, true
}

// openAll opens every device cfg names, whatever fails, and reports each
// one's outcome in the order of the configuration.
func openAll(ctx context.Context, cfg *config.Daemon) (*Devices, []Outcome) {
	d := &Devices{}
	var outs []Outcome
	hw := cfg.Hardware
	for i, cr := range cfg.Devices.CodeReaders {
		// A code reader is never implied: each one listed names its driver.
		if r, ok := open(ctx, codereader.Drivers, "", fmt.Sprintf("devices.code_readers[%d]", i), cr, &outs); ok {
			d.CodeReaders = append(d.CodeReaders, r)
		}
	}
	d.CardReader, _ = open(ctx, cardreader.Drivers, hw, "devices.card_reader", cfg.Devices.CardReader, &outs)
	d.Display, _ = open(ctx, display.Drivers, hw, "devices.display", cfg.Devices.Display, &outs)
	d.Lines, _ = open(ctx, gpio.Drivers, hw, "devices.gpio", cfg.Devices.GPIO, &outs)
	// A counter may have no printer, even on simulated hardware: it is
	// opened only where configured.
	if cfg.Devices.Printer.Driver != "" {
		d.Printer, _ = open(ctx, printer.Drivers, hw, "devices.printer", cfg.Devices.Printer, &outs)
	}
	if dr := cfg.Devices.Drawer; dr.Via != "" {
		d.Drawer = openDrawer(d, dr, &outs)
	}
	return d, outs
}

// openDrawer returns the cash drawer dr names, on a device opened above,
// and records the outcome as "devices.drawer" with the way it opens
// for driver.
func openDrawer(d *Devices, dr config.Drawer, outs *[]Outcome) printer.Drawer {
	const field = "devices.drawer"
	var drawer printer.Drawer
	var err error
	switch dr.Via {
	case "printer":
		if d.Printer == nil {
			err = errors.New("devices.drawer.via: printer: devices.printer did not open")
		} else {
			drawer = d.Printer
		}
	case "gpio":
		if d.Lines == nil {
			err = errors.New("devices.drawer.via: gpio: devices.gpio did not open")
		} else {
			drawer = printer.LineDrawer{Lines: d.Lines, Pulse: dr.Pulse.D()}
		}
	default:
		err = fmt.Errorf("devices.drawer.via: %q: want printer or gpio", dr.Via)
	}
	*outs = append(*outs, Outcome{Field: field, Driver: dr.Via, Err: err})
	return drawer
}

// driverOf returns the driver field was opened with; "" if it was not.
func driverOf(outs []Outcome, field string) string {
	for _, o := range outs {
		if o.Field == field && o.Err == nil {
			return o.Driver
		}
	}
	return ""
}

// failures joins the reasons of the devices that failed; nil if none did.
func failures(outs []Outcome) error {
	var errs []error
	for _, o := range outs {
		if o.Err != nil {
			errs = append(errs, o.Err)
		}
	}
	return errors.Join(errs...)
}

// OpenDevices opens the devices named by cfg. It is the first thing the
// daemon does, so a wrong driver stops it before it touches its store.
// Every device is tried, and the error names each one that failed.
func OpenDevices(ctx context.Context, cfg *config.Daemon) (*Devices, error) {
	d, outs := openAll(ctx, cfg)
	if err := failures(outs); err != nil {
		d.Close()
		return nil, err
	}
	d.Loaded = outs
	return d, nil
}

// CheckDevices opens every device cfg names, the e-ID counter's face
// camera included, then closes them, and reports each one's outcome. The
// error is non-nil when any failed.
func CheckDevices(ctx context.Context, cfg *config.Daemon) ([]Outcome, error) {
	d, outs := openAll(ctx, cfg)
	d.Close()
	if cfg.EID.Counter {
		outs = append(outs, checkFaceCamera(ctx, cfg))
	}
	return outs, failures(outs)
}

// WriteOutcomes writes one line per device outcome to w.
func WriteOutcomes(w io.Writer, outs []Outcome) error {
	var b strings.Builder
	for _, o := range outs {
		b.WriteString(o.String())
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}
