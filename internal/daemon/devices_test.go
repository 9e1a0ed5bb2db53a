package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/gpio"
	gpiosim "github.com/guichet/guichet/device/gpio/sim"
	printersim "github.com/guichet/guichet/device/printer/sim"
)

func driver(t *testing.T, name, opts string) config.Driver {
	t.Helper()
	d := config.Driver{Driver: name}
	if opts != "" {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(opts), &n); err != nil {
			t.Fatal(err)
		}
		d.Options = *n.Content[0]
	}
	return d
}

func TestOpenDevicesReportsEveryFailure(t *testing.T) {
	cfg := &config.Daemon{Hardware: "real"}
	cfg.Devices.CodeReaders = []config.Driver{driver(t, "sim", "codes: [A]"), driver(t, "", "")}
	cfg.Devices.CardReader = driver(t, "sim", "")
	cfg.Devices.Display = driver(t, "sim", "adress: 0x3d")
	// GPIO names no driver, which real hardware needs.
	_, err := OpenDevices(context.Background(), cfg)
	for _, want := range []string{
		"devices.code_readers[1].driver: must name a driver",
		"devices.display.options.adress: unknown field",
		"devices.gpio.driver: must name a driver when hardware is real",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %q", err, want)
		}
	}
	if !errors.Is(err, device.ErrUnknownField) {
		t.Errorf("error %v does not wrap ErrUnknownField", err)
	}
	_, outs := openAll(context.Background(), cfg)
	var got []string
	for _, o := range outs {
		got = append(got, o.String())
	}
	want := []string{
		"loaded devices.code_readers[0] (sim)",
		"failed devices.code_readers[1].driver: must name a driver",
		"loaded devices.card_reader (sim)",
		"failed devices.display.options.adress: unknown field",
		"failed devices.gpio.driver: must name a driver when hardware is real",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("outcomes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOpenDevicesSim(t *testing.T) {
	d, err := OpenDevices(context.Background(), &config.Daemon{Hardware: "sim"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.CardReader == nil || d.Display == nil || d.Lines == nil || len(d.CodeReaders) != 0 {
		t.Fatalf("devices %+v", d)
	}
}

func TestPrinterOpenedWhereConfigured(t *testing.T) {
	cfg := &config.Daemon{Hardware: "sim"}
	d, outs := openAll(context.Background(), cfg)
	d.Close()
	for _, o := range outs {
		if o.Field == "devices.printer" {
			t.Fatalf("a printer opened unconfigured: %v", o)
		}
	}
	cfg.Devices.Printer = driver(t, "escpos", "port: /dev/ttyUSB0\ndrawer: {pin: 5, onn: 100ms}")
	_, outs = openAll(context.Background(), cfg)
	if o := outs[len(outs)-1]; o.String() != "failed devices.printer.options.drawer.onn: unknown field" {
		t.Fatalf("outcome %v", o)
	}
	cfg.Devices.Printer = driver(t, "sim", "")
	d, err := OpenDevices(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Printer == nil {
		t.Fatal("no printer")
	}
}

func TestDrawerThroughPrinterOrGPIO(t *testing.T) {
	ctx := context.Background()
	cfg := &config.Daemon{Hardware: "sim"}
	cfg.Devices.Drawer = config.Drawer{Via: "printer"}
	d, outs := openAll(ctx, cfg)
	d.Close()
	if o := outs[len(outs)-1]; o.String() != "failed devices.drawer.via: printer: devices.printer did not open" || d.Drawer != nil {
		t.Fatalf("drawer on no printer: %v", o)
	}

	cfg.Devices.Printer = driver(t, "sim", "")
	d, err := OpenDevices(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Drawer.OpenDrawer(ctx); err != nil {
		t.Fatal(err)
	}
	if n := d.Printer.(*printersim.Printer).Openings(); n != 1 {
		t.Fatalf("printer's drawer kicked %d times", n)
	}

	cfg.Devices.Drawer = config.Drawer{Via: "gpio", Pulse: config.Duration(time.Millisecond)}
	g, outs := openAll(ctx, cfg)
	defer g.Close()
	if o := outs[len(outs)-1]; o.String() != "loaded devices.drawer (gpio)" {
		t.Fatalf("outcome %v", o)
	}
	if err := g.Drawer.OpenDrawer(ctx); err != nil {
		t.Fatal(err)
	}
	if n := g.Lines.(*gpiosim.Lines).Pulses(gpio.LineDrawer); n != 1 {
		t.Fatalf("drawer line pulsed %d times", n)
	}
	if n := g.Printer.(*printersim.Printer).Openings(); n != 0 {
		t.Fatalf("printer's drawer kicked %d times with the drawer on GPIO", n)
	}
}
