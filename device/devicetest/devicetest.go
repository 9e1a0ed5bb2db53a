// Package devicetest checks drivers against package device's registry:
// that a driver's options are decoded strictly, so that a misspelt or
// wrongly typed option is refused with its path and the driver is not
// opened with it.
package devicetest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device"
)

// Options parses s as a driver's options, as the configuration file holds
// them under "options:". An empty s gives an empty node, as for a device
// configured without options.
func Options(t testing.TB, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatalf("options %q: %v", s, err)
	}
	if len(n.Content) == 0 {
		return &yaml.Node{}
	}
	return n.Content[0]
}

// OptionCase is one set of options given to a driver.
type OptionCase struct {
	Name string
	// Options are the driver's options in YAML.
	Options string
	// Path is where the *device.OptionError must point, such as
	// "options.adress"; empty when the options are valid, and then the
	// driver may open or fail for another reason (no hardware here), but
	// not for its options.
	Path string
	// Reason is text the OptionError's reason must hold, such as
	// "unknown field".
	Reason string
}

// CheckOptions opens driver of r with the options of each case, closes
// what opens, and fails t when a case's options are not refused as they
// must be, or refused when they are valid.
func CheckOptions[T any](t *testing.T, r *device.Registry[T], driver string, cases []OptionCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			d, err := r.Open(ctx, driver, Options(t, c.Options))
			if err == nil {
				if cl, ok := any(d).(io.Closer); ok {
					cl.Close()
				}
			}
			var oe *device.OptionError
			isOption := errors.As(err, &oe)
			switch {
			case c.Path == "" && isOption:
				t.Fatalf("valid options %q refused: %v", c.Options, err)
			case c.Path == "":
			case !isOption:
				t.Fatalf("options %q: got %v, want an OptionError at %s", c.Options, err, c.Path)
			case oe.Path != c.Path || !strings.Contains(oe.Err.Error(), c.Reason):
				t.Fatalf("options %q: got %v, want %s: ...%s...", c.Options, err, c.Path, c.Reason)
			}
		})
	}
}
