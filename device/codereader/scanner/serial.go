package scanner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.bug.st/serial"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/codereader"
)

func init() {
	device.Register(codereader.Drivers, "serial", func(ctx context.Context, o SerialOptions) (codereader.Reader, error) {
		return OpenSerial(o)
	})
}

// SerialOptions configure the "serial" driver.
type SerialOptions struct {
	// Port is the serial device, such as /dev/ttyUSB0 or /dev/ttyACM0.
	Port string `yaml:"port"`
	// Baud is the line speed; default 9600, the usual factory setting.
	// The frame is 8N1.
	Baud int `yaml:"baud"`
	// AIM reads a leading AIM symbology identifier (see package doc).
	AIM bool `yaml:"aim"`
	// Source names the scanner in the codes; default "serial".
	Source string `yaml:"source"`
}

// pollInterval bounds how long a cancelled ReadCode waits for the port.
const pollInterval = 50 * time.Millisecond

// Serial reads a scanner that sends each code as a line on a serial port.
type Serial struct {
	port   serial.Port
	name   string
	source string
	aim    bool

	mu      sync.Mutex // serialises ReadCode
	lines   Lines
	pending []string
}

// OpenSerial opens o.Port.
func OpenSerial(o SerialOptions) (*Serial, error) {
	if o.Port == "" {
		return nil, errors.New("scanner: serial: no port")
	}
	if o.Baud == 0 {
		o.Baud = 9600
	}
	p, err := serial.Open(o.Port, &serial.Mode{BaudRate: o.Baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("scanner: serial: open %s: %w", o.Port, err)
	}
	if err := p.SetReadTimeout(pollInterval); err != nil {
		p.Close()
		return nil, fmt.Errorf("scanner: serial: %s: %w", o.Port, err)
	}
	if o.Source == "" {
		o.Source = "serial"
	}
	return &Serial{port: p, name: o.Port, source: o.Source, aim: o.AIM}, nil
}

// ReadCode returns the next line the scanner sends.
func (s *Serial) ReadCode(ctx context.Context) (codereader.Code, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := make([]byte, 256)
	for {
		if len(s.pending) > 0 {
			text := s.pending[0]
			s.pending = s.pending[1:]
			return newCode(text, s.source, s.aim, time.Now()), nil
		}
		if err := ctx.Err(); err != nil {
			return codereader.Code{}, err
		}
		// With the read timeout set, Read returns 0, nil when nothing
		// came, which lets ctx be checked.
		n, err := s.port.Read(buf)
		if err != nil {
			return codereader.Code{}, fmt.Errorf("scanner: serial %s: %w", s.name, err)
		}
		codes, ferr := s.lines.Feed(buf[:n])
		s.pending = append(s.pending, codes...)
		if ferr != nil {
			return codereader.Code{}, fmt.Errorf("scanner: serial %s: %w", s.name, ferr)
		}
	}
}

// Close closes the port; a blocked ReadCode returns an error.
func (s *Serial) Close() error { return s.port.Close() }
