package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnrolledMarker is the file, relative to state_dir, whose presence means
// the box was enrolled by `guichet provision` (package provision writes
// it last). An enrolled box takes its name, brokers, TLS material and the
// platform's key from the enrolment, not from this file.
const EnrolledMarker = "enrolment/binding.json"

// Enrolment tunes an enrolled device's certificate.
type Enrolment struct {
	// RenewBefore is when the certificate is renewed: with a fraction of
	// its lifetime left ("0.33"; the default is a third), or a duration
	// before its expiry ("240h").
	RenewBefore RenewBefore `yaml:"renew_before"`
}

// RenewBefore is a fraction of a certificate's lifetime or a duration;
// exactly one is set after defaults.
type RenewBefore struct {
	Fraction float64
	Duration time.Duration
	set      bool // written in the file, so 0 is refused, not defaulted
}

// UnmarshalYAML reads "0.33", "1/3" or a Go duration such as "240h".
func (r *RenewBefore) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseRenewBefore(s)
	if err != nil {
		return err
	}
	*r = v
	r.set = true
	return nil
}

// MarshalYAML writes the value back as it is read.
func (r RenewBefore) MarshalYAML() (any, error) { return r.String(), nil }

// String writes a fraction as a decimal and a duration as Go writes it.
func (r RenewBefore) String() string {
	if r.Duration != 0 {
		return r.Duration.String()
	}
	return strconv.FormatFloat(r.Fraction, 'g', -1, 64)
}

// ParseRenewBefore reads a fraction ("0.33", "1/3") or a duration ("240h").
func ParseRenewBefore(s string) (RenewBefore, error) {
	s = strings.TrimSpace(s)
	if num, den, ok := strings.Cut(s, "/"); ok {
		a, err1 := strconv.ParseFloat(num, 64)
		b, err2 := strconv.ParseFloat(den, 64)
		if err1 != nil || err2 != nil || b == 0 {
			return RenewBefore{}, fmt.Errorf("not a fraction: %q", s)
		}
		return RenewBefore{Fraction: a / b}, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return RenewBefore{Fraction: f}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return RenewBefore{}, fmt.Errorf("not a fraction (0.33) or a duration (240h): %q", s)
	}
	return RenewBefore{Duration: d}, nil
}

// At returns when a certificate valid from notBefore to notAfter is due
// for renewal. A duration longer than half the lifetime counts as half,
// so that a short certificate is not renewed again as soon as it comes.
func (r RenewBefore) At(notBefore, notAfter time.Time) time.Time {
	life := notAfter.Sub(notBefore)
	left := time.Duration(float64(life) * r.Fraction)
	if r.Duration != 0 {
		left = min(r.Duration, life/2)
	}
	return notAfter.Add(-left)
}

func (e *Enrolment) setDefaults() {
	if !e.RenewBefore.set {
		e.RenewBefore = RenewBefore{Fraction: 1.0 / 3, set: true}
	}
}

func (e *Enrolment) validate() error {
	r := e.RenewBefore
	switch {
	case r.Duration != 0 && r.Duration < time.Minute:
		return fieldErr("enrolment.renew_before", "a duration must be at least 1m, not %s", r.Duration)
	case r.Duration == 0 && (r.Fraction < 0.01 || r.Fraction > 0.9):
		return fieldErr("enrolment.renew_before", "a fraction must be between 0.01 and 0.9, not %g", r.Fraction)
	}
	return nil
}

// Enrolled reports whether state_dir holds an enrolment.
func (c *Daemon) Enrolled() bool {
	_, err := os.Stat(filepath.Join(c.StateDir, EnrolledMarker))
	return err == nil
}

// validateEnrolled refuses, on an enrolled box, the settings the
// enrolment provides: two sources for the same thing would disagree one
// day, and the file would win silently.
func (c *Daemon) validateEnrolled() error {
	b := c.Broker
	for _, f := range []struct{ name, v string }{
		{"broker.ca", b.CA}, {"broker.cert", b.Cert}, {"broker.key", b.Key}, {"broker.username", b.Username},
		{"broker.password_file", b.PasswordFile}, {"platform_key", c.PlatformKey}, {"platform_key_file", c.PlatformKeyFile},
	} {
		if f.v != "" {
			return fieldErr(f.name, "set by the enrolment in %s; remove it from the configuration", filepath.Join(c.StateDir, "enrolment"))
		}
	}
	if len(b.URLs) != 0 {
		return fieldErr("broker.urls", "set by the enrolment in %s; remove it from the configuration", filepath.Join(c.StateDir, "enrolment"))
	}
	return nil
}

// LoadForEnrolment reads the daemon's configuration on a box that is
// being enrolled: only what `guichet provision` needs is checked
// (state_dir, the identity and enrolment sections), as the device's name, its brokers
// and the platform's key are what enrolment brings.
func LoadForEnrolment(path string) (*Daemon, error) {
	c := &Daemon{}
	if err := load(path, c); err != nil {
		return nil, err
	}
	c.setDefaults()
	if c.StateDir == "" {
		return nil, fmt.Errorf("%s: %w", path, fieldErr("state_dir", "must be set"))
	}
	if c.Device.ID != "" {
		if err := validID("device.id", c.Device.ID); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := c.Enrolment.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Identity.validate(c.StateDir); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
