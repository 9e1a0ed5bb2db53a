package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/codereader"
)

func init() {
	device.Register(codereader.Drivers, "hid", func(ctx context.Context, o HIDOptions) (codereader.Reader, error) {
		return OpenHID(o)
	})
}

// HIDOptions configure the "hid" driver.
type HIDOptions struct {
	// Device is the scanner's event device. Prefer a stable name such as
	// /dev/input/by-id/usb-...-event-kbd to /dev/input/eventN.
	Device string `yaml:"device"`
	// Grab takes the device for this reader alone (EVIOCGRAB), so the
	// scanned keystrokes do not also land in the kiosk browser. Default
	// true; set false only to share the scanner with a keyboard.
	Grab *bool `yaml:"grab"`
	// AIM reads a leading AIM symbology identifier (see package doc).
	AIM bool `yaml:"aim"`
	// Source names the scanner in the codes; default "hid".
	Source string `yaml:"source"`
}

// eviocgrab is _IOW('E', 0x90, int) from linux/input.h.
const eviocgrab = 0x40044590

// deadliner is what a pollable file offers for cancelling a blocked read.
type deadliner interface {
	SetReadDeadline(t time.Time) error
}

// HID reads a keyboard-wedge scanner's key events.
type HID struct {
	r      io.Reader
	closer io.Closer
	source string
	aim    bool

	mu   sync.Mutex // serialises ReadCode
	keys Keys
	buf  []byte
}

// OpenHID opens the event device o.Device.
func OpenHID(o HIDOptions) (*HID, error) {
	if o.Device == "" {
		return nil, errors.New("scanner: hid: no device")
	}
	// Non-blocking, so that Go's poller can cancel a read (os.File
	// deadlines); evdev devices support poll.
	fd, err := unix.Open(o.Device, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("scanner: hid: open %s: %w", o.Device, err)
	}
	if o.Grab == nil || *o.Grab {
		if err := unix.IoctlSetInt(fd, eviocgrab, 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("scanner: hid: grab %s (is it an input event device?): %w", o.Device, err)
		}
	}
	f := os.NewFile(uintptr(fd), o.Device)
	return NewHID(f, o.Source, o.AIM), nil
}

// NewHID reads struct input_event records from r, a device or a pipe. If
// r has SetReadDeadline (an *os.File does), a cancelled ReadCode returns
// at once; otherwise it returns when the next event arrives. If r is an
// io.Closer, Close closes it.
func NewHID(r io.Reader, source string, aim bool) *HID {
	if source == "" {
		source = "hid"
	}
	h := &HID{r: r, source: source, aim: aim, buf: make([]byte, 0, 64*EventSize)}
	if c, ok := r.(io.Closer); ok {
		h.closer = c
	}
	return h
}

// ReadCode returns the next code typed by the scanner.
func (h *HID) ReadCode(ctx context.Context) (codereader.Code, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if dl, ok := h.r.(deadliner); ok {
		stop := context.AfterFunc(ctx, func() { dl.SetReadDeadline(time.Now()) })
		defer func() {
			if !stop() {
				dl.SetReadDeadline(time.Time{})
			}
		}()
	}
	chunk := make([]byte, 64*EventSize)
	for {
		// Whole events left over from the last read come first.
		for len(h.buf) >= EventSize {
			e, err := ParseEvent(h.buf[:EventSize])
			h.buf = h.buf[EventSize:]
			if err != nil {
				return codereader.Code{}, err
			}
			text, done, err := h.keys.Event(e)
			if err != nil {
				return codereader.Code{}, err
			}
			if done {
				return newCode(text, h.source, h.aim, time.Now()), nil
			}
		}
		if err := ctx.Err(); err != nil {
			return codereader.Code{}, err
		}
		n, err := h.r.Read(chunk)
		h.buf = append(h.buf[:len(h.buf):len(h.buf)], chunk[:n]...)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return codereader.Code{}, ctx.Err()
		case errors.Is(err, io.EOF), errors.Is(err, syscall.ENODEV):
			return codereader.Code{}, fmt.Errorf("scanner: hid: device gone: %w", err)
		default:
			return codereader.Code{}, fmt.Errorf("scanner: hid: %w", err)
		}
	}
}

// Close releases the device (and the grab with it).
func (h *HID) Close() error {
	if h.closer == nil {
		return nil
	}
	return h.closer.Close()
}
