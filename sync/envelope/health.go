package envelope

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Health is the device's health report, the payload of a frame signed with
// the record key and published every minute on Topics.Health (QoS 1, not
// retained). It does not go through the outbox: a report is worth only
// until the next one, and queued behind payments it would both delay them
// and report a queue it lengthens (docs/protocol.md, "Health").
type Health struct {
	Tenant string `json:"tenant"`
	Device string `json:"device"`
	// At is the device's wall clock, Unix milliseconds; the platform keeps
	// a report only if it is newer than the one it holds, so a replayed
	// report cannot hide a later one.
	At int64 `json:"at"`
	// Uptime is seconds since the daemon started.
	Uptime int64 `json:"uptime"`
	// Versions are the program's and its main modules' versions
	// ("guichetd": "v1.2.3", "go": "go1.26.8").
	Versions map[string]string `json:"versions,omitempty"`
	Queue    HealthQueue       `json:"queue"`
	Link     HealthLink        `json:"link"`
	// Devices are the peripherals, by their place in the configuration
	// ("devices.code_readers[0]").
	Devices []HealthDevice `json:"devices,omitempty"`
	// DiskFree and DiskTotal are bytes of the state directory's file system.
	DiskFree  uint64 `json:"disk_free"`
	DiskTotal uint64 `json:"disk_total"`
	// TempMilliC is the board's temperature in thousandths of a degree
	// Celsius, absent where the board has no sensor.
	TempMilliC *int64 `json:"temp_mc,omitempty"`
}

// HealthQueue is the outbox's state.
type HealthQueue struct {
	Depth   uint64 `json:"depth"`
	Blocked uint64 `json:"blocked,omitempty"`
	// OldestAge is the age in seconds of the oldest record not yet acked
	// (0 with an empty queue).
	OldestAge int64 `json:"oldest_age"`
}

// HealthLink is the link's counters since the daemon started.
type HealthLink struct {
	Connected  bool   `json:"connected"`
	Reconnects uint64 `json:"reconnects"`
	Sent       uint64 `json:"sent"`
	Resent     uint64 `json:"resent"`
	Refused    uint64 `json:"refused"`
	// LastAck and LastSync are Unix milliseconds, 0 for never.
	LastAck  int64 `json:"last_ack,omitempty"`
	LastSync int64 `json:"last_sync,omitempty"`
}

// HealthDevice is one peripheral's state and counters.
type HealthDevice struct {
	Name   string `json:"name"`
	Driver string `json:"driver,omitempty"`
	// State is DeviceOK or DeviceDegraded.
	State string `json:"state"`
	// Hint says what is wrong, for a technician; empty when ok.
	Hint    string `json:"hint,omitempty"`
	Errors  uint64 `json:"errors"`
	Decoded uint64 `json:"decoded,omitempty"`
}

// Device states.
const (
	DeviceOK       = "ok"
	DeviceDegraded = "degraded"
)

// Limits on a health report, so a hostile one cannot fill the store.
const (
	MaxHealthDevices  = 64
	MaxHealthVersions = 32
	maxHealthText     = 256
	// MaxHealth bounds the payload; a report is a few kilobytes.
	MaxHealth = 32 << 10
)

// DecodeHealth parses and checks a health payload.
func DecodeHealth(payload []byte) (*Health, error) {
	if len(payload) > MaxHealth {
		return nil, fmt.Errorf("envelope: health: %d bytes, at most %d", len(payload), MaxHealth)
	}
	var h Health
	if err := decodeStrict(payload, &h); err != nil {
		return nil, fmt.Errorf("envelope: health: %w", err)
	}
	if err := h.Check(); err != nil {
		return nil, err
	}
	return &h, nil
}

// Check validates the report's fields.
func (h *Health) Check() error {
	switch {
	case !validName(h.Tenant, MaxID):
		return fmt.Errorf("envelope: health: bad tenant %q", clip(h.Tenant))
	case !validName(h.Device, MaxID):
		return fmt.Errorf("envelope: health: bad device %q", clip(h.Device))
	case h.At <= 0:
		return fmt.Errorf("envelope: health: bad time %d", h.At)
	case h.Uptime < 0 || h.Queue.OldestAge < 0:
		return fmt.Errorf("envelope: health: negative duration")
	case len(h.Versions) > MaxHealthVersions:
		return fmt.Errorf("envelope: health: %d versions, at most %d", len(h.Versions), MaxHealthVersions)
	case len(h.Devices) > MaxHealthDevices:
		return fmt.Errorf("envelope: health: %d devices, at most %d", len(h.Devices), MaxHealthDevices)
	case h.DiskFree > h.DiskTotal:
		return fmt.Errorf("envelope: health: disk free %d above total %d", h.DiskFree, h.DiskTotal)
	}
	for k, v := range h.Versions {
		if !validName(k, MaxType) || !validText(v) {
			return fmt.Errorf("envelope: health: bad version %q", clip(k))
		}
	}
	seen := map[string]bool{}
	for i, d := range h.Devices {
		switch {
		case d.Name == "" || !validText(d.Name) || !validText(d.Driver) || !validText(d.Hint):
			return fmt.Errorf("envelope: health: devices[%d]: bad text", i)
		case d.State != DeviceOK && d.State != DeviceDegraded:
			return fmt.Errorf("envelope: health: devices[%d]: bad state %q", i, clip(d.State))
		case seen[d.Name]:
			return fmt.Errorf("envelope: health: devices[%d]: %q twice", i, clip(d.Name))
		}
		seen[d.Name] = true
	}
	return nil
}

// Degraded lists the names of the peripherals not ok.
func (h *Health) Degraded() []string {
	var out []string
	for _, d := range h.Devices {
		if d.State != DeviceOK {
			out = append(out, d.Name)
		}
	}
	return out
}

// validText accepts short printable UTF-8: what a log line or a screen can
// show without surprise.
func validText(s string) bool {
	if len(s) > maxHealthText || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// Status is the device's retained status on Topics.Status: online with its
// queue depth every 30 s, and {"online":false} as its MQTT last will, which
// the broker publishes when the connection is lost without a DISCONNECT.
// It is not signed (a will is fixed at connection time and would replay);
// the broker's ACL is what confines a device to its own status topic.
type Status struct {
	Online bool   `json:"online"`
	Depth  uint64 `json:"depth"`
	At     int64  `json:"at"`
	// Degraded names the peripherals not ok, as in the health report.
	Degraded []string `json:"degraded,omitempty"`
}

// DecodeStatus parses and checks a status payload.
func DecodeStatus(payload []byte) (*Status, error) {
	if len(payload) > MaxHealth {
		return nil, fmt.Errorf("envelope: status: %d bytes, at most %d", len(payload), MaxHealth)
	}
	var s Status
	// Not strict: an older or newer device may add fields to its status,
	// which carries no decision.
	if err := json.Unmarshal(payload, &s); err != nil {
		return nil, fmt.Errorf("envelope: status: %w", err)
	}
	if s.At < 0 {
		return nil, fmt.Errorf("envelope: status: bad time %d", s.At)
	}
	if len(s.Degraded) > MaxHealthDevices {
		return nil, fmt.Errorf("envelope: status: %d degraded devices, at most %d", len(s.Degraded), MaxHealthDevices)
	}
	for _, d := range s.Degraded {
		if d == "" || !validText(d) {
			return nil, fmt.Errorf("envelope: status: bad device name")
		}
	}
	return &s, nil
}
