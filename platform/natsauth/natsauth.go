// Package natsauth renders the authorization block of a NATS fleet's
// servers (deploy/nats): one user per enrolled device and per platform
// instance, each named after the subject of its client certificate, which
// the MQTT listener maps to the user (tls.verify_and_map), with
// permissions that confine a device to the NATS subjects its own MQTT
// topics map to. The platform renders it again whenever it enrols or
// revokes a device and makes the servers reload it (SIGHUP): a device whose
// user is gone is refused at its next connection, as NATS 2.9 has no CRL.
package natsauth

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/sync/envelope"
)

// Device is an enrolled device.
type Device struct{ Tenant, Device string }

// Fleet is everything the authorization block grants.
type Fleet struct {
	Devices []Device
	// Platforms are the platform instances' names: instance p1 holds a
	// certificate with CN guichet-platform-p1.
	Platforms []string
	// ProvisionBridge adds the user of the provisioning broker's bridge
	// (deploy/mosquitto/provision.conf, CN guichet-provision-bridge),
	// through which unenrolled appliances reach the fleet: the NATS
	// MQTT listener itself takes only mapped certificates.
	ProvisionBridge bool
}

// BridgeCN is the common name of the provisioning bridge's certificate.
const BridgeCN = "guichet-provision-bridge"

// User returns the NATS user a certificate with common name cn maps to:
// its subject as NATS writes it (RFC 2253; tenant and device names hold no
// character that needs escaping there).
func User(cn string) string { return "CN=" + cn }

// root is envelope.Root as a NATS subject prefix: an MQTT topic's levels
// are a subject's tokens.
var root = strings.ReplaceAll(envelope.Root, "/", ".")

// Render returns the authorization block. Device and instance names are
// checked: a name NATS would map to other tokens ('.' is one) or that is
// not a valid name is refused, as is a device listed twice.
func Render(f Fleet) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Rendered by platform/natsauth; do not edit: the platform rewrites it\n" +
		"# when it enrols or revokes a device, then reloads the servers.\n")
	b.WriteString("authorization {\n  users = [\n")
	seen := map[string]bool{}
	platforms := append([]string(nil), f.Platforms...)
	sort.Strings(platforms)
	for _, p := range platforms {
		if !natsName(p) {
			return nil, fmt.Errorf("natsauth: platform instance %q: not a valid name", p)
		}
		u := User("guichet-platform-" + p)
		if seen[u] {
			return nil, fmt.Errorf("natsauth: platform instance %q listed twice", p)
		}
		seen[u] = true
		// The platform reads every device's up/ and the provisioning
		// requests, and writes every device's down/ and the answers.
		user(&b, u,
			[]string{root + ".*.*.down.>", root + ".provision.*.resp"},
			[]string{root + ".*.*.up", root + ".*.*.up.>", root + ".provision.*.req"})
	}
	if f.ProvisionBridge {
		// Requests out, answers in: nothing else.
		seen[User(BridgeCN)] = true
		user(&b, User(BridgeCN), []string{root + ".provision.*.req"}, []string{root + ".provision.*.resp"})
	}
	devices := append([]Device(nil), f.Devices...)
	sort.Slice(devices, func(i, j int) bool {
		return claim.CommonName(devices[i].Tenant, devices[i].Device) < claim.CommonName(devices[j].Tenant, devices[j].Device)
	})
	for _, d := range devices {
		if !natsName(d.Tenant) || !natsName(d.Device) {
			return nil, fmt.Errorf("natsauth: device %q of tenant %q: not a valid name for NATS", d.Device, d.Tenant)
		}
		u := User(claim.CommonName(d.Tenant, d.Device))
		if seen[u] {
			return nil, fmt.Errorf("natsauth: device %s/%s listed twice", d.Tenant, d.Device)
		}
		seen[u] = true
		base := root + "." + d.Tenant + "." + d.Device
		// An MQTT subscription to down/# is two NATS subscriptions:
		// down and down.>.
		user(&b, u, []string{base + ".up.>"}, []string{base + ".down", base + ".down.>"})
	}
	b.WriteString("  ]\n}\n")
	return b.Bytes(), nil
}

// user writes one user. Every user may connect only over MQTT, and gets
// subscribe permission on $MQTT.sub.>, where nats-server 2.9 delivers QoS 1
// messages from the JetStream consumer it keeps for each MQTT subscription
// (a QoS 1 subscription fails without it); an MQTT client cannot name that
// subject itself (internal/confine checks it cannot read another's
// messages through it).
func user(b *bytes.Buffer, name string, pub, sub []string) {
	fmt.Fprintf(b, "    {\n      user: %s\n      allowed_connection_types: [\"MQTT\"]\n      permissions: {\n", strconv.Quote(name))
	fmt.Fprintf(b, "        publish: { allow: %s }\n", list(pub))
	fmt.Fprintf(b, "        subscribe: { allow: %s }\n", list(append(sub, "$MQTT.sub.>")))
	b.WriteString("      }\n    }\n")
}

func list(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// natsName reports whether s is a valid name that maps to exactly one NATS
// token: nats-server 2.9 turns a '.' in an MQTT topic into other tokens,
// so the permission would not match the topic.
func natsName(s string) bool {
	return envelope.ValidName(s) && !strings.Contains(s, ".")
}
