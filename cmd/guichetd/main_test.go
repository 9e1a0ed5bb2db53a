package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck runs the built daemon with --check on a configuration with one
// good device and two bad ones, and wants every device's outcome, not only
// the first failure's, and a failed status.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "guichetd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	const head = `device: {id: till-1}
broker: {urls: ["tcp://127.0.0.1:1883"]}
platform_key: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
hardware: sim
`
	for _, c := range []struct {
		name, devices string
		status        int
		want          []string
	}{
		{
			name: "one good, two bad",
			devices: `devices:
  card_reader: {driver: sim, options: {delay: 10ms}}
  display: {driver: ssd1306, options: {adress: 0x3d}}
  gpio: {driver: cdev, options: {chip: gpiochip0, lines: {buzzer: {offset: 1, activ_low: true}}}}
`,
			status: 2,
			want: []string{
				"loaded devices.card_reader (sim)\n",
				"failed devices.display.options.adress: unknown field\n",
				"failed devices.gpio.options.lines.buzzer.activ_low: unknown field\n",
			},
		},
		{
			name: "all good",
			devices: `devices:
  code_readers: [{driver: sim, options: {codes: [A]}}]
`,
			want: []string{
				"loaded devices.code_readers[0] (sim)\n",
				"loaded devices.card_reader (sim)\n",
				"loaded devices.display (sim)\n",
				"loaded devices.gpio (sim)\n",
				"configuration ok\n",
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "guichetd.yaml")
			if err := os.WriteFile(conf, []byte(head+c.devices), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "--config", conf, "--check")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			status := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != c.status || string(out) != strings.Join(c.want, "") {
				t.Fatalf("status %d, output:\n%s\nstderr: %s\nwant status %d, output:\n%s", status, out, stderr.String(), c.status, strings.Join(c.want, ""))
			}
			if c.status != 0 && !strings.Contains(stderr.String(), "2 of 3 devices failed") {
				t.Fatalf("stderr: %s", stderr.String())
			}
		})
	}
}
