package config

import (
	"fmt"
	"time"
)

// Platform is the configuration of guichet-platform, the reference central
// platform.
type Platform struct {
	// Instance names this process among several sharing one store.
	Instance string `yaml:"instance"`
	// Store is the path of the platform's SQLite database, shared by the
	// instances of one site.
	Store string `yaml:"store"`
	// KeyFile holds the platform's Ed25519 private key (created if missing).
	KeyFile string `yaml:"key_file"`
	// Broker is where the devices' records arrive.
	Broker Broker `yaml:"broker"`
	// Shared subscribes through an MQTT shared subscription ($share/...),
	// so several instances split the load. Off for brokers without them.
	Shared bool `yaml:"shared"`
	// Admin is the loopback host:port of the stats endpoint.
	Admin string `yaml:"admin"`
	// Rules decide authorisations.
	Rules Rules `yaml:"rules"`
	// BatchMax bounds how many records are applied in one transaction.
	BatchMax int `yaml:"batch_max"`
	// BatchDelay is the longest a record waits for others to share its commit.
	BatchDelay Duration `yaml:"batch_delay"`
	LogLevel   string   `yaml:"log_level"`
}

// Rules are the reference platform's simple authorisation rules.
type Rules struct {
	// MaxAmount in minor units (cents): above it a payment is declined.
	MaxAmount int64 `yaml:"max_amount"`
	// DeclineCodes are payment codes always declined (a blocked wallet).
	DeclineCodes []string `yaml:"decline_codes"`
}

// LoadPlatform reads, defaults and validates the platform's configuration.
func LoadPlatform(path string) (*Platform, error) {
	c := &Platform{}
	if err := load(path, c); err != nil {
		return nil, err
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func (c *Platform) setDefaults() {
	if c.Instance == "" {
		c.Instance = "p1"
	}
	if c.Admin == "" {
		c.Admin = "127.0.0.1:8090"
	}
	if c.Rules.MaxAmount == 0 {
		c.Rules.MaxAmount = 500000
	}
	if c.BatchMax == 0 {
		c.BatchMax = 2000
	}
	if c.BatchDelay == 0 {
		c.BatchDelay = Duration(2 * time.Millisecond)
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
}

// Validate checks every field and returns the first error, naming the field.
func (c *Platform) Validate() error {
	if err := validID("instance", c.Instance); err != nil {
		return err
	}
	if c.Store == "" {
		return fieldErr("store", "must be set")
	}
	if c.KeyFile == "" {
		return fieldErr("key_file", "must be set")
	}
	if err := c.Broker.validate("broker"); err != nil {
		return err
	}
	if _, _, err := splitHostPort(c.Admin); err != nil {
		return fieldErr("admin", "%v", err)
	}
	if c.Rules.MaxAmount < 0 {
		return fieldErr("rules.max_amount", "must not be negative")
	}
	if c.BatchMax < 1 || c.BatchMax > 100000 {
		return fieldErr("batch_max", "must be between 1 and 100000")
	}
	if c.BatchDelay.D() < 0 || c.BatchDelay.D() > time.Second {
		return fieldErr("batch_delay", "must be between 0 and 1s")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fieldErr("log_level", "unknown level %q", c.LogLevel)
	}
	return nil
}
