package daemon

import (
	"context"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/display"
	"github.com/guichet/guichet/device/gpio"

	// Drivers shipped with the appliance, registered by name.
	_ "github.com/guichet/guichet/device/camera"
	_ "github.com/guichet/guichet/device/cardreader/pcsc"
	_ "github.com/guichet/guichet/device/cardreader/sam"
	_ "github.com/guichet/guichet/device/cardreader/sim"
	_ "github.com/guichet/guichet/device/codereader/codescan"
	_ "github.com/guichet/guichet/device/codereader/scanner"
	_ "github.com/guichet/guichet/device/codereader/sim"
	_ "github.com/guichet/guichet/device/display/ssd1306"
	_ "github.com/guichet/guichet/device/gpio/cdev"
	_ "github.com/guichet/guichet/device/gpio/sim"
)

// Devices are the opened devices.
type Devices struct {
	CodeReaders []codereader.Reader
	CardReader  cardreader.Reader
	Display     display.Display
	Lines       gpio.Lines
}

// Close closes every device.
func (d *Devices) Close() {
	for _, c := range d.CodeReaders {
		c.Close()
	}
	for _, c := range []interface{ Close() error }{d.CardReader, d.Display, d.Lines} {
		if c != nil {
			c.Close()
		}
	}
}

func opts(n *yaml.Node) device.Options {
	if n == nil || n.Kind == 0 {
		return device.NoOptions{}
	}
	return n
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
	return "", fmt.Errorf("%s: must name a driver when hardware is real", field)
}

// OpenDevices opens the devices named by cfg. It is the first thing the
// daemon does, so a wrong driver stops it before it touches its store.
func OpenDevices(ctx context.Context, cfg *config.Daemon) (_ *Devices, err error) {
	d := &Devices{}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	for i, cr := range cfg.Devices.CodeReaders {
		field := fmt.Sprintf("devices.code_readers[%d]", i)
		r, err := codereader.Drivers.Open(ctx, cr.Driver, opts(&cr.Options))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		d.CodeReaders = append(d.CodeReaders, r)
	}
	name, err := pick(cfg.Hardware, cfg.Devices.CardReader, "devices.card_reader.driver")
	if err != nil {
		return nil, err
	}
	if d.CardReader, err = cardreader.Drivers.Open(ctx, name, opts(&cfg.Devices.CardReader.Options)); err != nil {
		return nil, fmt.Errorf("devices.card_reader: %w", err)
	}
	if name, err = pick(cfg.Hardware, cfg.Devices.Display, "devices.display.driver"); err != nil {
		return nil, err
	}
	if d.Display, err = display.Drivers.Open(ctx, name, opts(&cfg.Devices.Display.Options)); err != nil {
		return nil, fmt.Errorf("devices.display: %w", err)
	}
	if name, err = pick(cfg.Hardware, cfg.Devices.GPIO, "devices.gpio.driver"); err != nil {
		return nil, err
	}
	if d.Lines, err = gpio.Drivers.Open(ctx, name, opts(&cfg.Devices.GPIO.Options)); err != nil {
		return nil, fmt.Errorf("devices.gpio: %w", err)
	}
	return d, nil
}
