package v4l2

import (
	"context"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device/camera"
	"github.com/guichet/guichet/device/devicetest"
)

// yamlOpts parses s as a driver's options, as the daemon's configuration
// loader hands them over.
func yamlOpts(t *testing.T, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

func TestOpenErrors(t *testing.T) {
	cases := []struct {
		driver, opts, want string
	}{
		{"v4l2", "device: /dev/video-none", "video-none"},
		{"v4l2", "device: \"97\"", "97"},
	}
	for _, c := range cases {
		cam, err := camera.Drivers.Open(context.Background(), c.driver, yamlOpts(t, c.opts))
		if err == nil {
			cam.Close()
			t.Errorf("%s %s: opened, want error with %q", c.driver, c.opts, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: %v, want %q", c.driver, c.opts, err, c.want)
		}
	}
}

func TestDriversRegistered(t *testing.T) {
	for _, n := range []string{"v4l2"} {
		if !camera.Drivers.Has(n) {
			t.Errorf("driver %q not registered", n)
		}
	}
}

func TestOptionsStrict(t *testing.T) {
	devicetest.CheckOptions(t, camera.Drivers, "v4l2", []devicetest.OptionCase{
		{Name: "unknown field", Options: "devce: /dev/video0", Path: "options.devce", Reason: "unknown field"},
		{Name: "wrong type", Options: "width: wide", Path: "options.width", Reason: "cannot unmarshal"},
		{Name: "valid", Options: "device: /nonexistent/video9\nfourcc: MJPG"},
	})
}
