package envelope

import (
	"fmt"
	"strings"
)

// Root is the first level of every topic; the second is the protocol
// version, so a new protocol can run beside the old one.
const Root = "guichet/v1"

// Topics of one device. A broker ACL confines a device to its own subtree:
// it publishes under .../up/ and subscribes under .../down/.
type Topics struct {
	Tenant, Device string
}

func (t Topics) base() string { return Root + "/" + t.Tenant + "/" + t.Device }

// Records is where the device publishes its records (QoS 1).
func (t Topics) Records() string { return t.base() + "/up/rec" }

// Status is the device's retained status, also its MQTT last will.
func (t Topics) Status() string { return t.base() + "/up/status" }

// Health is where the device publishes its signed health report (QoS 1),
// every minute.
func (t Topics) Health() string { return t.base() + "/up/health" }

// Applied is where the device reports what it did with each command and
// configuration (QoS 1); under up/, so the ACL that lets the device write
// its records covers it.
func (t Topics) Applied() string { return t.base() + "/up/applied" }

// Acks is where the platform publishes acks to the device (QoS 1).
func (t Topics) Acks() string { return t.base() + "/down/ack" }

// Commands is where the platform publishes signed commands.
func (t Topics) Commands() string { return t.base() + "/down/cmd" }

// Config is the platform's retained, signed configuration for the device.
func (t Topics) Config() string { return t.base() + "/down/config" }

// Down is the filter a device subscribes to.
func (t Topics) Down() string { return t.base() + "/down/#" }

// Filters the platform subscribes to.
const (
	AllRecords = Root + "/+/+/up/rec"
	AllStatus  = Root + "/+/+/up/status"
	AllApplied = Root + "/+/+/up/applied"
	AllHealth  = Root + "/+/+/up/health"
)

// ParseUp splits a device topic under Root into tenant, device and the
// rest ("up/rec", "up/status").
func ParseUp(topic string) (tenant, device, rest string, err error) {
	s, ok := strings.CutPrefix(topic, Root+"/")
	if !ok {
		return "", "", "", fmt.Errorf("envelope: topic %q not under %s", clip(topic), Root)
	}
	parts := strings.SplitN(s, "/", 3)
	if len(parts) != 3 || !validName(parts[0], MaxID) || !validName(parts[1], MaxID) {
		return "", "", "", fmt.Errorf("envelope: bad topic %q", clip(topic))
	}
	return parts[0], parts[1], parts[2], nil
}
