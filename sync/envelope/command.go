package envelope

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Command is a signed instruction or configuration from the platform,
// on the device's command or config topic.
//
// Each command belongs to a stream (Stream): "config" for the retained
// configuration, "cmd.NAME" for the commands named NAME. The platform
// numbers a device's commands per stream with a Version that only grows,
// and the device applies a command only if its version is higher than the
// last one it applied on that stream: an older signed configuration (looser
// offline limits, say) replayed on the topic is refused, not applied.
type Command struct {
	Tenant string `json:"tenant"`
	Device string `json:"device"`
	// ID names the command, so that the device's Applied report can be
	// matched to it; versions, not ids, decide what is applied.
	ID string `json:"id"`
	// Name is what to do: "sync", "config", "offline_limits", ...
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
	// Version is the command's place in its stream for this device: 1, 2,
	// 3, ... (gaps allowed), never reused.
	Version uint64 `json:"version"`
	// Expires is when the command stops being valid, Unix milliseconds; a
	// device refuses it after that, retained configuration included.
	Expires int64 `json:"expires"`
}

// Limits on command fields.
const (
	// MaxVersion keeps versions exact in every JSON reader (2^53 - 1).
	MaxVersion = 1<<53 - 1
	// StreamConfig is the stream of the retained configuration.
	StreamConfig = "config"
	// CommandConfig is the name of the command that carries the whole
	// configuration, retained on the config topic.
	CommandConfig = "config"
)

// Stream is the stream the command's version counts in: "config" for the
// configuration, "cmd.NAME" for the others.
func (c *Command) Stream() string { return StreamOf(c.Name) }

// StreamOf returns the stream of commands named name.
func StreamOf(name string) string {
	if name == CommandConfig {
		return StreamConfig
	}
	return "cmd." + name
}

// DecodeCommand parses and checks a command payload. Version and Expires
// are required: a command without them (from a platform older than
// versions) is refused rather than applied unordered.
func DecodeCommand(payload []byte) (*Command, error) {
	var c Command
	if err := decodeStrict(payload, &c); err != nil {
		return nil, fmt.Errorf("envelope: command: %w", err)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Check validates the command's fields.
func (c *Command) Check() error {
	switch {
	case !validName(c.Tenant, MaxID) || !validName(c.Device, MaxID) || c.ID == "" || len(c.ID) > MaxKey || !utf8.ValidString(c.ID) || !validName(c.Name, MaxType):
		return fmt.Errorf("envelope: command: bad tenant, device, id or name")
	case c.Version == 0 || c.Version > MaxVersion:
		return fmt.Errorf("envelope: command: version must be between 1 and %d", uint64(MaxVersion))
	case c.Expires <= 0:
		return fmt.Errorf("envelope: command: no expiry")
	case len(c.Args) > 0 && !json.Valid(c.Args):
		return fmt.Errorf("envelope: command: args are not JSON")
	}
	return nil
}

// Applied is the device's report of what it did with a command: the
// payload of an upward frame on the applied topic, signed by the device
// key like its records. The platform matches it to the command by ID and
// learns the version the device now holds on the stream.
type Applied struct {
	Tenant string `json:"tenant"`
	Device string `json:"device"`
	// ID, Stream and Version are the command's, as the device read them;
	// after a refusal for a bad signature they come from an unverified
	// payload and say only what the refused message claimed.
	ID      string `json:"id"`
	Stream  string `json:"stream"`
	Version uint64 `json:"version"`
	// Status is StatusApplied or StatusRefused.
	Status string `json:"status"`
	// Reason is one of the Reason constants when refused, empty when applied.
	Reason string `json:"reason,omitempty"`
	// Detail says more, for a person (a flow's error, say).
	Detail string `json:"detail,omitempty"`
	// Current is the last version the device has applied on the stream,
	// after this message: a platform that lost its counters (a restored
	// store) starts again above it.
	Current uint64 `json:"current"`
	// At is the device's clock, Unix milliseconds.
	At int64 `json:"at"`
}

// Statuses of an Applied report.
const (
	StatusApplied = "applied"
	StatusRefused = "refused"
)

// Reasons a device refuses a downlink message, in Applied reports and in
// the link's counters.
const (
	ReasonReplayed  = "replayed"  // the version already applied on its stream
	ReasonOld       = "old"       // a version below the one applied
	ReasonExpired   = "expired"   // past its Expires
	ReasonForged    = "forged"    // not signed by the platform key
	ReasonForeign   = "foreign"   // for another tenant or device
	ReasonMalformed = "malformed" // not a valid frame or command
	ReasonUnhandled = "unhandled" // no flow on the device takes this command
	ReasonFailed    = "failed"    // a flow refused the command's args
	ReasonStore     = "store"     // the device cannot read or write its applied versions
)

// Reasons lists the refusal reasons, for counters and checks.
var Reasons = []string{ReasonReplayed, ReasonOld, ReasonExpired, ReasonForged, ReasonForeign,
	ReasonMalformed, ReasonUnhandled, ReasonFailed, ReasonStore}

// MaxDetail bounds Applied.Detail.
const MaxDetail = 256

// DecodeApplied parses and checks an applied report.
func DecodeApplied(payload []byte) (*Applied, error) {
	var a Applied
	if err := decodeStrict(payload, &a); err != nil {
		return nil, fmt.Errorf("envelope: applied: %w", err)
	}
	if err := a.Check(); err != nil {
		return nil, err
	}
	return &a, nil
}

// Check validates the report's fields.
func (a *Applied) Check() error {
	switch {
	case !validName(a.Tenant, MaxID) || !validName(a.Device, MaxID):
		return fmt.Errorf("envelope: applied: bad tenant or device")
	case a.ID == "" || len(a.ID) > MaxKey || !utf8.ValidString(a.ID):
		return fmt.Errorf("envelope: applied: bad id")
	case !validStream(a.Stream):
		return fmt.Errorf("envelope: applied: bad stream %q", clip(a.Stream))
	case a.Version > MaxVersion || a.Current > MaxVersion:
		return fmt.Errorf("envelope: applied: version beyond %d", uint64(MaxVersion))
	case len(a.Detail) > MaxDetail || !utf8.ValidString(a.Detail):
		return fmt.Errorf("envelope: applied: bad detail")
	}
	switch a.Status {
	case StatusApplied:
		if a.Reason != "" || a.Version == 0 || a.Current != a.Version {
			return fmt.Errorf("envelope: applied: an applied command has a version, is the current one, and no reason")
		}
	case StatusRefused:
		if !knownReason(a.Reason) {
			return fmt.Errorf("envelope: applied: unknown reason %q", clip(a.Reason))
		}
	default:
		return fmt.Errorf("envelope: applied: bad status %q", clip(a.Status))
	}
	return nil
}

func knownReason(r string) bool {
	for _, k := range Reasons {
		if r == k {
			return true
		}
	}
	return false
}

// validStream accepts "config" and "cmd.NAME" with NAME a command name.
func validStream(s string) bool {
	if s == StreamConfig {
		return true
	}
	name, ok := strings.CutPrefix(s, "cmd.")
	return ok && validName(name, MaxType)
}
