package device

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func node(t testing.TB, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	if len(n.Content) == 0 {
		return &n
	}
	return n.Content[0]
}

type bOptions struct {
	X    string `yaml:"x"`
	Fail bool   `yaml:"fail"`
}

func TestRegistry(t *testing.T) {
	r := NewRegistry[string]("widget")
	Register(r, "b", func(_ context.Context, o bOptions) (string, error) {
		if o.Fail {
			return "", errors.New("refused")
		}
		return "b:" + o.X, nil
	})
	Register(r, "a", func(context.Context, struct{}) (string, error) { return "a", nil })
	if got := strings.Join(r.Names(), ","); got != "a,b" {
		t.Fatalf("names %s", got)
	}
	if !r.Has("a") || r.Has("c") {
		t.Fatal("Has")
	}
	if v, err := r.Open(context.Background(), "b", node(t, "x: 1")); err != nil || v != "b:1" {
		t.Fatalf("open b: %q %v", v, err)
	}
	if v, err := r.Open(context.Background(), "a", nil); err != nil || v != "a" {
		t.Fatalf("open a with no options: %q %v", v, err)
	}
	if _, err := r.Open(context.Background(), "c", nil); err == nil || !strings.Contains(err.Error(), `unknown widget driver "c" (known: a, b)`) {
		t.Fatalf("unknown driver: %v", err)
	}
	if _, err := r.Open(context.Background(), "b", node(t, "fail: true")); err == nil || !strings.Contains(err.Error(), `widget driver "b": refused`) {
		t.Fatalf("failing driver: %v", err)
	}
	_, err := r.Open(context.Background(), "a", node(t, "x: 1"))
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Path != "options.x" || !errors.Is(err, ErrUnknownField) {
		t.Fatalf("option for a driver without options: %v", err)
	}
	if got := At("devices.widget", err).Error(); got != "devices.widget.options.x: unknown field" {
		t.Fatalf("At: %s", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("registering a name twice did not panic")
		}
	}()
	Register(r, "a", func(context.Context, struct{}) (string, error) { return "", nil })
}

func TestAt(t *testing.T) {
	other := errors.New("no such device")
	if got := At("devices.display", other); got.Error() != "devices.display: no such device" || !errors.Is(got, other) {
		t.Fatalf("At: %v", got)
	}
	if At("devices.display", nil) != nil {
		t.Fatal("At of nil is not nil")
	}
	nested := Nest("camera_options", fmt.Errorf(`camera driver "v4l2": %w`, &OptionError{Path: "options.widht", Err: ErrUnknownField}))
	if got := At("devices.code_readers[0]", nested).Error(); got != "devices.code_readers[0].options.camera_options.widht: unknown field" {
		t.Fatalf("nested: %s", got)
	}
	if Nest("camera_options", other) != other {
		t.Fatal("Nest changed an error that is not an OptionError")
	}
}

// Duration stands for a type with its own YAML decoding.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

type Line struct {
	Pin    int  `yaml:"pin"`
	Active bool `yaml:"active_low"`
}

type Common struct {
	Source string `yaml:"source"`
}

type testOptions struct {
	Address  uint16          `yaml:"address"`
	Width    int             `yaml:"width"`
	Interval time.Duration   `yaml:"interval"`
	Wait     Duration        `yaml:"wait"`
	Codes    []string        `yaml:"codes"`
	Lines    map[string]Line `yaml:"lines"`
	Inner    *Line           `yaml:"inner"`
	Items    []Line          `yaml:"items"`
	Node     yaml.Node       `yaml:"camera_options"`
	Skipped  string          `yaml:"-"`
	Untagged string
	Common   `yaml:",inline"`
	hidden   string //nolint:unused // an unexported field is no option
}

func TestDecodeOptions(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		path       string // of the OptionError; "" for none
		reason     string
		check      func(testOptions) bool
	}{
		{name: "empty", yaml: "", check: func(o testOptions) bool { return o.Width == 0 }},
		{name: "null", yaml: "~", check: func(o testOptions) bool { return o.Width == 0 }},
		{name: "empty mapping", yaml: "{}", check: func(o testOptions) bool { return o.Width == 0 }},
		{name: "all good", yaml: "address: 0x3d\nwidth: 128\ninterval: 2s\nwait: 1m\ncodes: [a, b]\nlines: {drawer: {pin: 4, active_low: true}}\ninner: {pin: 2}\nitems: [{pin: 1}]\ncamera_options: {anything: 1}\nuntagged: u\nsource: s",
			check: func(o testOptions) bool {
				return o.Address == 0x3d && o.Width == 128 && o.Interval == 2*time.Second && o.Wait == Duration(time.Minute) &&
					len(o.Codes) == 2 && o.Lines["drawer"].Pin == 4 && o.Inner.Pin == 2 && o.Items[0].Pin == 1 &&
					o.Node.Kind == yaml.MappingNode && o.Untagged == "u" && o.Source == "s"
			}},
		{name: "unknown field", yaml: "adress: 0x3d", path: "options.adress", reason: "unknown field"},
		{name: "unknown after good ones", yaml: "width: 128\nhieght: 64", path: "options.hieght", reason: "unknown field"},
		{name: "field skipped with -", yaml: "skipped: x", path: "options.skipped", reason: "unknown field"},
		{name: "unexported field", yaml: "hidden: x", path: "options.hidden", reason: "unknown field"},
		{name: "inline struct's name", yaml: "common: {source: s}", path: "options.common", reason: "unknown field"},
		{name: "nested unknown in a map of structs", yaml: "lines: {drawer: {pin: 4, activ_low: true}}", path: "options.lines.drawer.activ_low", reason: "unknown field"},
		{name: "nested unknown behind a pointer", yaml: "inner: {pn: 2}", path: "options.inner.pn", reason: "unknown field"},
		{name: "nested unknown in a list", yaml: "items: [{pin: 1}, {pinn: 2}]", path: "options.items[1].pinn", reason: "unknown field"},
		{name: "wrong type", yaml: "width: wide", path: "options.width", reason: "cannot unmarshal !!str `wide` into int"},
		{name: "out of range", yaml: "address: 70000", path: "options.address", reason: "into uint16"},
		{name: "bad duration", yaml: "interval: 3 parsecs", path: "options.interval", reason: "time.Duration"},
		{name: "custom decoder refuses", yaml: "wait: soon", path: "options.wait", reason: "invalid duration"},
		{name: "wrong type in a list", yaml: "codes: [a, [b]]", path: "options.codes[1]", reason: "cannot unmarshal"},
		{name: "list for a scalar", yaml: "width: [1]", path: "options.width", reason: "cannot unmarshal"},
		{name: "scalar for a struct", yaml: "inner: 3", path: "options.inner", reason: "cannot unmarshal"},
		{name: "scalar for the whole", yaml: "just text", path: "options", reason: "cannot unmarshal"},
		{name: "merge key", yaml: "base: &b {width: 1}\n", path: "options.base", reason: "unknown field"},
		{name: "merged unknown", yaml: "items: [{pin: 1}, {<<: {pinn: 2}}]", path: "options.items[1].pinn", reason: "unknown field"},
		{name: "merged good", yaml: "items: [{<<: {pin: 2}}]", check: func(o testOptions) bool { return o.Items[0].Pin == 2 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var o testOptions
			err := DecodeOptions(node(t, c.yaml), &o)
			if c.path == "" {
				if err != nil || !c.check(o) {
					t.Fatalf("got %+v, %v", o, err)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Path != c.path || !strings.Contains(oe.Err.Error(), c.reason) {
				t.Fatalf("got %v, want %s: ...%s...", err, c.path, c.reason)
			}
			if c.reason == "unknown field" && (!errors.Is(err, ErrUnknownField) || err.Error() != c.path+": unknown field") {
				t.Fatalf("got %q", err)
			}
		})
	}
}

func TestDecodeOptionsSelfAlias(t *testing.T) {
	// An alias to its own ancestor must end, not recurse for ever.
	n := node(t, "items: &a [*a]")
	var o testOptions
	if err := DecodeOptions(n, &o); err == nil {
		t.Fatal("a self-referring alias decoded")
	}
}

func TestDecodeOptionsAliasBomb(t *testing.T) {
	// Aliases that multiply ("billion laughs") are refused quickly.
	s := "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	prev := "a"
	for _, l := range []string{"b", "c", "d", "e", "f", "g"} {
		s += l + ": &" + l + " [" + strings.Repeat("*"+prev+",", 9) + "*" + prev + "]\n"
		prev = l
	}
	s += "codes: [" + strings.Repeat("*g,", 9) + "*g]\n"
	for _, v := range []any{&testOptions{}, &map[string]any{}} {
		start := time.Now()
		if err := DecodeOptions(node(t, s), v); err == nil {
			t.Fatalf("%T: alias bomb decoded", v)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%T: took %v", v, d)
		}
	}
}

func FuzzDecodeOptions(f *testing.F) {
	for _, s := range []string{"", "width: 1", "lines: {a: {pin: 1}}", "items: [{<<: {pin: 2}}]", "items: &a [*a]", "x: *y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var n yaml.Node
		if yaml.Unmarshal([]byte(s), &n) != nil {
			return
		}
		var o testOptions
		err := DecodeOptions(&n, &o)
		var oe *OptionError
		if err != nil && !errors.As(err, &oe) {
			t.Fatalf("%q: error %v is not an OptionError", s, err)
		}
	})
}
