package cdev

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/gpio"
)

// Options is the yaml configuration of the driver:
//
//	chip: gpiochip0
//	consumer: guichet
//	lines:
//	  led_green: {offset: 17}
//	  led_red:   {offset: 27, active_low: true}
//	  buzzer:    {offset: 22}
//	  drawer:    {offset: 23}
//	  tamper:    {offset: 24, input: true, debounce: 20ms, bias: pull-up}
type Options struct {
	// Chip is the GPIO character device, "gpiochipN" or "/dev/gpiochipN".
	Chip string `yaml:"chip"`
	// Consumer is the label the kernel shows for the requested lines
	// (GPIO_MAX_NAME_SIZE is 32 bytes with the NUL); "guichet" if empty.
	Consumer string `yaml:"consumer"`
	// Lines maps the line names of package gpio to their wiring.
	Lines map[string]LineOptions `yaml:"lines"`
	// Extra catches misspelt keys, which are an error rather than ignored.
	Extra map[string]any `yaml:",inline"`
}

// LineOptions is the wiring of one line.
type LineOptions struct {
	// Offset is the line's offset on the chip; it must be given.
	Offset *int `yaml:"offset"`
	// ActiveLow inverts the line: "on" drives (or reads) a low level.
	ActiveLow bool `yaml:"active_low"`
	// Input requests the line as an input with edge detection (the tamper
	// switch); otherwise it is an output, initialised off.
	Input bool `yaml:"input"`
	// Debounce is the debounce period of an input, as a Go duration
	// ("20ms"); empty for none.
	Debounce string `yaml:"debounce"`
	// Bias is "pull-up", "pull-down", "disabled" or empty (as is).
	Bias string `yaml:"bias"`
	// Extra catches misspelt keys.
	Extra map[string]any `yaml:",inline"`
}

// knownLines are the names the flows use; any other name is a
// configuration mistake.
var knownLines = []string{gpio.LineLEDGreen, gpio.LineLEDRed, gpio.LineBuzzer, gpio.LineDrawer, gpio.LineTamper}

// maxOffset bounds offsets before the chip is asked; the uAPI v2 requests
// at most 64 lines but a chip may have many more. Real bound is checked at
// open against the chip's line count.
const maxOffset = 4095

// maxDebounce bounds the debounce period: the uAPI carries microseconds in
// a u32, and a tamper switch debounced for more than a second is broken.
const maxDebounce = time.Second

var chipName = regexp.MustCompile(`^(/dev/)?gpiochip[0-9]{1,3}$`)

// line is one validated line.
type line struct {
	name      string
	offset    int
	activeLow bool
	input     bool
	debounce  time.Duration
	bias      string
}

// config is validated Options.
type config struct {
	chip     string
	consumer string
	lines    []line // sorted by name
}

func (o Options) validate() (config, error) {
	var errs []error
	if len(o.Extra) > 0 {
		errs = append(errs, fmt.Errorf("unknown keys %s", keys(o.Extra)))
	}
	c := config{chip: o.Chip, consumer: o.Consumer}
	if !chipName.MatchString(o.Chip) {
		errs = append(errs, fmt.Errorf("chip %q: want gpiochipN or /dev/gpiochipN", truncate(o.Chip)))
	}
	if c.consumer == "" {
		c.consumer = "guichet"
	}
	if len(c.consumer) > 31 || strings.ContainsFunc(c.consumer, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		errs = append(errs, fmt.Errorf("consumer %q: want at most 31 printable ASCII characters without spaces", truncate(c.consumer)))
	}
	if len(o.Lines) == 0 {
		errs = append(errs, errors.New("no lines configured"))
	}
	byOffset := map[int]string{}
	names := make([]string, 0, len(o.Lines))
	for n := range o.Lines {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		lo := o.Lines[n]
		if !known(n) {
			errs = append(errs, fmt.Errorf("line %q: unknown name (known: %s)", truncate(n), strings.Join(knownLines, ", ")))
			continue
		}
		l := line{name: n, activeLow: lo.ActiveLow, input: lo.Input, bias: lo.Bias}
		if len(lo.Extra) > 0 {
			errs = append(errs, fmt.Errorf("line %q: unknown keys %s", n, keys(lo.Extra)))
		}
		switch {
		case lo.Offset == nil:
			errs = append(errs, fmt.Errorf("line %q: offset missing", n))
		case *lo.Offset < 0 || *lo.Offset > maxOffset:
			errs = append(errs, fmt.Errorf("line %q: offset %d out of range 0..%d", n, *lo.Offset, maxOffset))
		default:
			l.offset = *lo.Offset
			if other, dup := byOffset[l.offset]; dup {
				errs = append(errs, fmt.Errorf("line %q: offset %d already used by %q", n, l.offset, other))
			}
			byOffset[l.offset] = n
		}
		if n == gpio.LineTamper && !lo.Input {
			errs = append(errs, fmt.Errorf("line %q: must be an input", n))
		}
		if n != gpio.LineTamper && lo.Input {
			errs = append(errs, fmt.Errorf("line %q: must be an output", n))
		}
		if lo.Debounce != "" {
			d, err := time.ParseDuration(lo.Debounce)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("line %q: debounce %q: not a duration", n, truncate(lo.Debounce)))
			case !lo.Input:
				errs = append(errs, fmt.Errorf("line %q: debounce applies to inputs only", n))
			case d < 0 || d > maxDebounce:
				errs = append(errs, fmt.Errorf("line %q: debounce %v out of range 0..%v", n, d, maxDebounce))
			default:
				l.debounce = d
			}
		}
		switch lo.Bias {
		case "", "pull-up", "pull-down", "disabled":
		default:
			errs = append(errs, fmt.Errorf("line %q: bias %q: want pull-up, pull-down or disabled", n, truncate(lo.Bias)))
		}
		c.lines = append(c.lines, l)
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, fmt.Errorf("gpio cdev options: %w", err)
	}
	return c, nil
}

func known(name string) bool {
	for _, k := range knownLines {
		if k == name {
			return true
		}
	}
	return false
}

// unknownField reports the first misspelt key, in the order of the keys,
// as the registry reports those of other drivers: the Extra maps take
// what the registry's strict decoding would refuse, so that New also
// refuses them for callers that decode options themselves.
func (o Options) unknownField() error {
	if k, ok := first(o.Extra); ok {
		return &device.OptionError{Path: "options." + truncate(k), Err: device.ErrUnknownField}
	}
	names := make([]string, 0, len(o.Lines))
	for n := range o.Lines {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if k, ok := first(o.Lines[n].Extra); ok {
			return &device.OptionError{Path: "options.lines." + truncate(n) + "." + truncate(k), Err: device.ErrUnknownField}
		}
	}
	return nil
}

// first returns the first key of m in sorted order, if m has any.
func first(m map[string]any) (f string, ok bool) {
	for k := range m {
		if !ok || k < f {
			f, ok = k, true
		}
	}
	return f, ok
}

func keys(m map[string]any) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, fmt.Sprintf("%q", truncate(k)))
	}
	sort.Strings(ks)
	if len(ks) > 5 {
		ks = append(ks[:5], "...")
	}
	return strings.Join(ks, ", ")
}

// truncate keeps hostile configuration values from flooding an error.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
