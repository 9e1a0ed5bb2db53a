package cdev

import (
	"context"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device/gpio"
)

const goodYAML = `
chip: gpiochip0
lines:
  led_green: {offset: 0}
  led_red: {offset: 1, active_low: true}
  buzzer: {offset: 2}
  drawer: {offset: 3}
  tamper: {offset: 4, input: true, debounce: 5ms, bias: pull-up}
`

func decode(t testing.TB, src string) (Options, error) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		return Options{}, err
	}
	var o Options
	if len(n.Content) == 0 {
		return o, nil
	}
	err := n.Content[0].Decode(&o)
	return o, err
}

func TestOptions(t *testing.T) {
	o, err := decode(t, goodYAML)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if l.cfg.consumer != "guichet" || len(l.cfg.lines) != 5 {
		t.Errorf("config = %+v", l.cfg)
	}
	tam := l.byName[gpio.LineTamper]
	if !tam.input || tam.debounce.Milliseconds() != 5 || tam.offset != 4 || tam.bias != "pull-up" {
		t.Errorf("tamper = %+v", tam)
	}
	if red := l.byName[gpio.LineLEDRed]; !red.activeLow || red.input {
		t.Errorf("led_red = %+v", red)
	}
}

func TestOptionsHostile(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown line", "chip: gpiochip0\nlines: {fan: {offset: 1}}", `line "fan": unknown name`},
		{"duplicate offset", "chip: gpiochip0\nlines: {led_green: {offset: 3}, led_red: {offset: 3}}", `offset 3 already used by "led_green"`},
		{"no chip", "lines: {led_green: {offset: 1}}", `chip "": want gpiochipN`},
		{"path chip", "chip: /etc/passwd\nlines: {led_green: {offset: 1}}", `chip "/etc/passwd"`},
		{"traversal chip", "chip: /dev/../etc/gpiochip0\nlines: {led_green: {offset: 1}}", `want gpiochipN`},
		{"chip suffix", "chip: gpiochip0x\nlines: {led_green: {offset: 1}}", `want gpiochipN`},
		{"missing offset", "chip: gpiochip0\nlines: {led_green: {active_low: true}}", `offset missing`},
		{"negative offset", "chip: gpiochip0\nlines: {led_green: {offset: -1}}", `out of range`},
		{"huge offset", "chip: gpiochip0\nlines: {led_green: {offset: 99999999}}", `out of range`},
		{"overflowing offset", "chip: gpiochip0\nlines: {led_green: {offset: 999999999999999999999}}", `cannot unmarshal`},
		{"no lines", "chip: gpiochip0", `no lines configured`},
		{"tamper output", "chip: gpiochip0\nlines: {tamper: {offset: 1}}", `must be an input`},
		{"led input", "chip: gpiochip0\nlines: {led_red: {offset: 1, input: true}}", `must be an output`},
		{"bad debounce", "chip: gpiochip0\nlines: {tamper: {offset: 1, input: true, debounce: soon}}", `not a duration`},
		{"long debounce", "chip: gpiochip0\nlines: {tamper: {offset: 1, input: true, debounce: 1h}}", `out of range`},
		{"negative debounce", "chip: gpiochip0\nlines: {tamper: {offset: 1, input: true, debounce: -1ms}}", `out of range`},
		{"output debounce", "chip: gpiochip0\nlines: {buzzer: {offset: 1, debounce: 1ms}}", `inputs only`},
		{"bad bias", "chip: gpiochip0\nlines: {tamper: {offset: 1, input: true, bias: sideways}}", `bias "sideways"`},
		{"typo key", "chip: gpiochip0\nlines: {buzzer: {ofset: 1}}", `unknown keys "ofset"`},
		{"typo top key", "chip: gpiochip0\nline: {}\nlines: {buzzer: {offset: 1}}", `unknown keys "line"`},
		{"long consumer", "chip: gpiochip0\nconsumer: " + strings.Repeat("x", 40) + "\nlines: {buzzer: {offset: 1}}", `consumer`},
		{"spaced consumer", "chip: gpiochip0\nconsumer: 'a b'\nlines: {buzzer: {offset: 1}}", `consumer`},
		{"lines a list", "chip: gpiochip0\nlines: [1, 2]", `cannot unmarshal`},
		{"huge name", "chip: gpiochip0\nlines:\n  ? " + strings.Repeat("n", 100000) + "\n  : {offset: 1}", `unknown name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := decode(t, tt.yaml)
			if err == nil {
				_, err = New(o)
			}
			if err == nil {
				t.Fatalf("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
			if len(err.Error()) > 2000 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestOptionsJunk(t *testing.T) {
	junk := strings.Repeat("\x00\xffjunk: [{", 1<<20) // 10 MB
	o, err := decode(t, junk)
	if err == nil {
		_, err = New(o)
	}
	if err == nil {
		t.Fatal("10 MB of junk accepted")
	}
}

// TestOpenNoChip checks that New touches nothing and that Open names the
// chip it could not open; the build machine's kernel has no GPIO chip 999.
func TestOpenNoChip(t *testing.T) {
	o, err := decode(t, strings.Replace(goodYAML, "gpiochip0", "gpiochip999", 1))
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Set(gpio.LineBuzzer, true); err == nil || !strings.Contains(err.Error(), "not open") {
		t.Errorf("Set before Open: %v", err)
	}
	err = l.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), "gpiochip999") {
		t.Fatalf("Open = %v, want an error naming gpiochip999", err)
	}
	if err := l.Close(); err != nil {
		t.Error(err)
	}
	if err := l.Set(gpio.LineBuzzer, true); err != ErrClosed {
		t.Errorf("Set after Close = %v", err)
	}
	if err := l.Watch(context.Background(), gpio.LineTamper, func(bool) {}); err != ErrClosed {
		t.Errorf("Watch after Close = %v", err)
	}
}

func TestRegistered(t *testing.T) {
	if !gpio.Drivers.Has("cdev") {
		t.Fatal("cdev not registered")
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("chip: gpiochip0\nlines: {fan: {offset: 1}}"), &n); err != nil {
		t.Fatal(err)
	}
	_, err := gpio.Drivers.Open(context.Background(), "cdev", n.Content[0])
	if err == nil || !strings.Contains(err.Error(), `"fan"`) {
		t.Errorf("Open with bad options = %v", err)
	}
}

func FuzzOptions(f *testing.F) {
	f.Add(goodYAML)
	f.Add("chip: gpiochip0\nlines: {led_green: {offset: 3}, led_red: {offset: 3}}")
	f.Add("chip: /dev/gpiochip12\nconsumer: x\nlines: {tamper: {offset: 0, input: true, debounce: 1us}}")
	f.Add("lines: {tamper: {offset: 1, input: true, debounce: 9223372036854775807ns}}")
	f.Add("\x00\xff: [")
	f.Fuzz(func(t *testing.T, src string) {
		o, err := decode(t, src)
		if err != nil {
			return
		}
		l, err := New(o)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		seen := map[int]bool{}
		for _, ln := range l.cfg.lines {
			if seen[ln.offset] || ln.offset < 0 || ln.offset > maxOffset || !known(ln.name) {
				t.Fatalf("accepted bad line %+v", ln)
			}
			seen[ln.offset] = true
			if ln.input != (ln.name == gpio.LineTamper) || ln.debounce < 0 || ln.debounce > maxDebounce {
				t.Fatalf("accepted bad line %+v", ln)
			}
		}
		if !chipName.MatchString(l.cfg.chip) {
			t.Fatalf("accepted chip %q", l.cfg.chip)
		}
	})
}
