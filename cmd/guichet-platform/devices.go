package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/platform"
)

// devices prints each enrolled device's health: online or offline, last
// seen, versions, queue and degraded peripherals.
func devices(ctx context.Context, cfg *config.Platform, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devices", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON (the admin endpoint's GET /devices)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	store, err := platform.OpenStore(cfg.Store)
	if err != nil {
		return err
	}
	defer store.Close()
	devs, err := store.Devices(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(devs)
	}
	return writeDevices(stdout, devs, time.Now())
}

// writeDevices writes the devices table.
func writeDevices(w io.Writer, devs []platform.DeviceHealth, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %-20s %-7s %-10s %-14s %6s %8s %s\n", "TENANT", "DEVICE", "STATE", "LAST SEEN", "VERSION", "QUEUE", "OLDEST", "HEALTH")
	for _, d := range devs {
		state := "offline"
		if d.Online {
			state = "online"
		}
		seen := "never"
		if d.LastSeen > 0 {
			seen = ago(now.Sub(time.UnixMilli(d.LastSeen)))
		}
		version, oldest, health := "-", "-", "ok"
		if d.Health != nil {
			version = d.Health.Versions["main"]
			if r := d.Health.Versions["vcs.revision"]; r != "" && (version == "" || version == "(devel)") {
				version = r[:min(len(r), 12)]
			}
			if version == "" {
				version = "-"
			}
			oldest = ago(time.Duration(d.Health.Queue.OldestAge) * time.Second)
		}
		if len(d.Degraded) > 0 {
			health = "degraded: " + strings.Join(d.Degraded, ", ")
		} else if d.Health == nil && d.LastSeen == 0 {
			health = "-"
		}
		fmt.Fprintf(&b, "%-12s %-20s %-7s %-10s %-14s %6d %8s %s\n", d.Tenant, d.Device, state, seen, version, d.Depth, oldest, health)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ago writes a duration the way an operator reads it: 42s, 5m, 3h, 2d.
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// listenAdmin binds the admin endpoint before anything else starts, so a
// port in use stops the platform at once.
func listenAdmin(cfg *config.Platform) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Admin)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return ln, nil
}
