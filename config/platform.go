package config

import (
	"errors"
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
	// Enrol is enrolment by one-time code: the platform's CA and what an
	// enrolled device is given.
	Enrol    Enrol  `yaml:"enrol"`
	LogLevel string `yaml:"log_level"`
}

// Rules are the reference platform's simple authorisation rules.
type Rules struct {
	// MaxAmount in minor units (cents): above it a payment is declined.
	MaxAmount int64 `yaml:"max_amount"`
	// DeclineCodes are payment codes always declined (a blocked wallet).
	DeclineCodes []string `yaml:"decline_codes"`
	// The simulated customer (platform/wallet.SimWallet): a payment whose code
	// starts with one of ConfirmPrefixes, or whose amount is above
	// ConfirmAbove, is answered user_paying and confirmed ConfirmAfter
	// later; one whose code starts with one of AbandonPrefixes is never
	// confirmed. Left out, they are ["1555"], ["1556"], 100000 (1,000.00)
	// and 3s; an empty list ([]) means no such code, and a confirm_above
	// at or above max_amount means no confirmation for the amount.
	ConfirmPrefixes []string `yaml:"confirm_prefixes"`
	AbandonPrefixes []string `yaml:"abandon_prefixes"`
	ConfirmAbove    int64    `yaml:"confirm_above"`
	ConfirmAfter    Duration `yaml:"confirm_after"`
	// CodeTTL is how long a customer's code is good after the till
	// scanned it, as the wallets' codes last about a minute (default 1m):
	// forwarded later, the payment is declined "expired", unless the till
	// approved it offline and it comes within OfflineWindow (default
	// 24h: an outage of a whole business day still clears the next
	// morning, and the wallet's risk on a stolen code stays one day of a
	// till's offline limits).
	CodeTTL       Duration `yaml:"code_ttl"`
	OfflineWindow Duration `yaml:"offline_window"`
}

// Bounds of the simulated customer's settings: enough for any test or
// demo, small enough that a typo is noticed.
const (
	maxRulePrefixes   = 64
	maxRulePrefixLen  = 32
	maxRuleAmount     = 99999999999 // checkout.MaxAmount, the largest amount a payment may have
	maxRuleConfirmAge = 10 * time.Minute
)

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
	// nil is "left out"; an empty list, written [], stays empty.
	if c.Rules.ConfirmPrefixes == nil {
		c.Rules.ConfirmPrefixes = []string{"1555"}
	}
	if c.Rules.AbandonPrefixes == nil {
		c.Rules.AbandonPrefixes = []string{"1556"}
	}
	if c.Rules.ConfirmAbove == 0 {
		c.Rules.ConfirmAbove = 100000
	}
	if c.Rules.CodeTTL == 0 {
		c.Rules.CodeTTL = Duration(time.Minute)
	}
	if c.Rules.OfflineWindow == 0 {
		c.Rules.OfflineWindow = Duration(24 * time.Hour)
	}
	if c.Rules.ConfirmAfter == 0 {
		c.Rules.ConfirmAfter = Duration(3 * time.Second)
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
	c.Enrol.setDefaults(c.Store)
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
	if err := c.Rules.validateCustomer(); err != nil {
		return err
	}
	if c.BatchMax < 1 || c.BatchMax > 100000 {
		return fieldErr("batch_max", "must be between 1 and 100000")
	}
	if c.BatchDelay.D() < 0 || c.BatchDelay.D() > time.Second {
		return fieldErr("batch_delay", "must be between 0 and 1s")
	}
	if err := c.Enrol.validate(); err != nil {
		return err
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fieldErr("log_level", "unknown level %q", c.LogLevel)
	}
	return nil
}

func (r *Rules) validateCustomer() error {
	seen := map[string]string{}
	for _, l := range []struct {
		field string
		list  []string
	}{{"rules.confirm_prefixes", r.ConfirmPrefixes}, {"rules.abandon_prefixes", r.AbandonPrefixes}} {
		if len(l.list) > maxRulePrefixes {
			return fieldErr(l.field, "%d prefixes, at most %d", len(l.list), maxRulePrefixes)
		}
		for i, p := range l.list {
			f := fmt.Sprintf("%s[%d]", l.field, i)
			if err := validPrefix(p); err != nil {
				return fieldErr(f, "%v", err)
			}
			// The wallet would follow whichever list it looks at first.
			if other, ok := seen[p]; ok {
				return fieldErr(f, "%q is already in %s", p, other)
			}
			seen[p] = l.field
		}
	}
	if r.ConfirmAbove < 0 || r.ConfirmAbove > maxRuleAmount {
		return fieldErr("rules.confirm_above", "must be between 1 and %d (minor units), not %d", int64(maxRuleAmount), r.ConfirmAbove)
	}
	if d := r.CodeTTL.D(); d < time.Second || d > time.Hour {
		return fieldErr("rules.code_ttl", "must be between 1s and 1h, not %v", d)
	}
	if d := r.OfflineWindow.D(); d < r.CodeTTL.D() || d > 30*24*time.Hour {
		return fieldErr("rules.offline_window", "must be between rules.code_ttl (%v) and 720h, not %v", r.CodeTTL.D(), d)
	}
	if d := r.ConfirmAfter.D(); d < 0 || d > maxRuleConfirmAge {
		return fieldErr("rules.confirm_after", "must be between 0 and %v, not %v", maxRuleConfirmAge, d)
	}
	return nil
}

// validPrefix accepts the start of a payment code: digits for the
// wallets' codes, base64 for EMV ones.
func validPrefix(p string) error {
	if p == "" {
		return errors.New("must not be empty")
	}
	if len(p) > maxRulePrefixLen {
		return fmt.Errorf("longer than %d characters", maxRulePrefixLen)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%q has a space, a control or a non-ASCII character", p)
		}
	}
	return nil
}
