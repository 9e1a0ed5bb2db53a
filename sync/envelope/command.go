package envelope

import (
	"encoding/json"
	"fmt"
)

// Command is a signed instruction or configuration from the platform,
// on the device's command or config topic.
type Command struct {
	Tenant string `json:"tenant"`
	Device string `json:"device"`
	// ID is unique per command; a device applies each ID once.
	ID string `json:"id"`
	// Name is what to do: "sync", "config", "offline_limits", ...
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
	// NotAfter is when the command expires, Unix milliseconds, so a
	// replayed old command is refused.
	NotAfter int64 `json:"not_after"`
}

// DecodeCommand parses and checks a command payload.
func DecodeCommand(payload []byte) (*Command, error) {
	var c Command
	if err := decodeStrict(payload, &c); err != nil {
		return nil, fmt.Errorf("envelope: command: %w", err)
	}
	if !validName(c.Tenant, MaxID) || !validName(c.Device, MaxID) || c.ID == "" || len(c.ID) > MaxKey || !validName(c.Name, MaxType) {
		return nil, fmt.Errorf("envelope: command: bad tenant, device, id or name")
	}
	if len(c.Args) > 0 && !json.Valid(c.Args) {
		return nil, fmt.Errorf("envelope: command: args are not JSON")
	}
	return &c, nil
}
