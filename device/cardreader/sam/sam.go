// Package sam is the card reader driver for the resident-ID readers built
// around a "SAM" security module on a serial line, registered as card
// reader driver "sam".
//
// It opens the serial port (115200 8N1 unless told otherwise), checks that
// the module answers, and reads cards with the client of package
// firmware-bridge/sam. Its options, under the driver's "options" key:
//
//	port: /dev/ttyUSB0          # required
//	baud: 115200                # 9600, 19200, 38400, 57600 or 115200
//	timeout: 500ms              # one exchange
//	read_timeout: 3s            # the read base information exchange
//	retries: 2                  # resends after a damaged or lost reply
//	poll_interval: 200ms        # between two searches for a card
//	photo_decoder: [/usr/lib/guichet/wltdecode]  # WLT on stdin, image on stdout
//	photo_decoder_timeout: 5s
//
// Without photo_decoder the card's photo is returned as WLT bytes
// (PhotoFormat "wlt"), which face matching cannot use.
package sam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.bug.st/serial"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/cardreader"
	bridge "github.com/guichet/guichet/firmware-bridge/sam"
)

func init() {
	device.Register(cardreader.Drivers, "sam", func(ctx context.Context, o Options) (cardreader.Reader, error) {
		return Open(ctx, o)
	})
}

// Options configure the driver; see the package comment for their keys.
type Options struct {
	Port                string        `yaml:"port"`
	Baud                int           `yaml:"baud"`
	Timeout             time.Duration `yaml:"timeout"`
	ReadTimeout         time.Duration `yaml:"read_timeout"`
	Retries             int           `yaml:"retries"`
	PollInterval        time.Duration `yaml:"poll_interval"`
	PhotoDecoder        []string      `yaml:"photo_decoder"`
	PhotoDecoderTimeout time.Duration `yaml:"photo_decoder_timeout"`

	// Logger receives the driver's diagnostics; nil means slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// bauds are the rates the module's UART supports (protocol, table 1).
var bauds = map[int]bool{9600: true, 19200: true, 38400: true, 57600: true, 115200: true}

// Dev is an open SAM card reader.
type Dev struct {
	port   serial.Port
	client *bridge.Client
}

// Open opens the serial port named in o and checks that a module answers
// the status command (11 FF) before ctx ends.
func Open(ctx context.Context, o Options) (*Dev, error) {
	if o.Port == "" {
		return nil, errors.New("sam: no serial port configured (options.port)")
	}
	if o.Baud == 0 {
		o.Baud = 115200
	}
	if !bauds[o.Baud] {
		return nil, fmt.Errorf("sam: baud rate %d not supported by the module (9600, 19200, 38400, 57600, 115200)", o.Baud)
	}
	port, err := serial.Open(o.Port, &serial.Mode{BaudRate: o.Baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("sam: opening %s: %w", o.Port, err)
	}
	opts := bridge.Options{
		Timeout:      o.Timeout,
		ReadTimeout:  o.ReadTimeout,
		Retries:      o.Retries,
		PollInterval: o.PollInterval,
		Logger:       o.Logger,
	}
	if len(o.PhotoDecoder) > 0 {
		opts.Photo = bridge.ExecDecoder{Argv: o.PhotoDecoder, Timeout: o.PhotoDecoderTimeout}
	}
	d := &Dev{port: port, client: bridge.New(port, opts)}
	if err := d.client.Status(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("sam: module on %s: %w", o.Port, err)
	}
	return d, nil
}

// ReadCard waits for a card on the reader and reads it. The access data is
// not used: the module authenticates the card itself. The card is Verified,
// as the module checked it; its data is checked again (see
// firmware-bridge/sam.Text.Card) and a card that does not hold together is
// an error wrapping sam.ErrCardData of package firmware-bridge/sam.
func (d *Dev) ReadCard(ctx context.Context, _ cardreader.Access) (*cardreader.Card, error) {
	c, err := d.client.ReadCard(ctx)
	if err != nil {
		return nil, err
	}
	return toDevice(c), nil
}

// Client gives access to the module's other commands, for self-tests.
func (d *Dev) Client() *bridge.Client { return d.client }

// Close stops the client and closes the port.
func (d *Dev) Close() error {
	return d.client.Close()
}

// Probe checks that the module answers (11 FF) and searches once for a
// card in the field (20 01). The module gives no ATR.
func (d *Dev) Probe(ctx context.Context) (cardreader.Presence, error) {
	if err := d.client.Status(ctx); err != nil {
		return cardreader.Presence{}, fmt.Errorf("sam: module: %w", err)
	}
	p := cardreader.Presence{Reader: "sam"}
	switch err := d.client.FindCard(ctx); {
	case err == nil:
		p.Card = true
	case errors.Is(err, bridge.StatusNoCard):
	default:
		return p, fmt.Errorf("sam: find card: %w", err)
	}
	return p, nil
}
