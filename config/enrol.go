package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Enrol configures enrolment by one-time code on the platform
// (platform/enrol): the platform's CA, the certificates it issues and what
// it hands a newly enrolled device.
type Enrol struct {
	// Dir holds the CA's key (ca.key, mode 0600) and certificate (ca.pem),
	// made at first use (default: ca/ beside the store).
	Dir string `yaml:"dir"`
	// CertValidity is how long a device certificate is valid (default
	// 720h, 30 days).
	CertValidity Duration `yaml:"cert_validity"`
	// RenewBefore is the renewal window: a device renews when less than
	// this is left of its certificate, and `device list` marks those past
	// it (default a third of cert_validity).
	RenewBefore Duration `yaml:"renew_before"`
	// Brokers are the mutual-TLS addresses (ssl://host:port) handed to an
	// enrolled device. Enrolment is served only when they are set.
	Brokers []string `yaml:"brokers"`
	// BrokerCA is a PEM file added to the CA bundle handed to devices,
	// when the brokers' certificates come from another CA than the
	// platform's.
	BrokerCA string `yaml:"broker_ca"`
	// CRLFile is where the certificate revocation list is written, for the
	// broker (Mosquitto's crlfile) to read (default: crl.pem in dir).
	CRLFile string `yaml:"crl_file"`
	// CodeExpiry is how long an enrolment code is valid when
	// enrol-code is not told (default 24h).
	CodeExpiry Duration `yaml:"code_expiry"`
}

// Bounds of the enrolment settings. The broker list's bounds are those of
// the enrolment response (provision/claim's MaxBrokers and MaxURL), so a
// configuration that loads is one a device accepts.
const (
	minCertValidity = time.Hour
	maxCertValidity = 397 * 24 * time.Hour
	minCodeExpiry   = time.Minute
	maxCodeExpiry   = 30 * 24 * time.Hour
	maxEnrolBrokers = 8
	maxEnrolURL     = 256
)

func (e *Enrol) setDefaults(store string) {
	if e.Dir == "" && store != "" {
		e.Dir = filepath.Join(filepath.Dir(store), "ca")
	}
	if e.CertValidity == 0 {
		e.CertValidity = Duration(30 * 24 * time.Hour)
	}
	if e.RenewBefore == 0 {
		e.RenewBefore = e.CertValidity / 3
	}
	if e.CRLFile == "" && e.Dir != "" {
		e.CRLFile = filepath.Join(e.Dir, "crl.pem")
	}
	if e.CodeExpiry == 0 {
		e.CodeExpiry = Duration(24 * time.Hour)
	}
}

func (e *Enrol) validate() error {
	if e.Dir == "" {
		return fieldErr("enrol.dir", "must be set")
	}
	if v := e.CertValidity.D(); v < minCertValidity || v > maxCertValidity {
		return fieldErr("enrol.cert_validity", "must be between %v and %v, not %v", minCertValidity, maxCertValidity, v)
	}
	if r := e.RenewBefore.D(); r <= 0 || r >= e.CertValidity.D() {
		return fieldErr("enrol.renew_before", "must be positive and less than enrol.cert_validity (%v), not %v", e.CertValidity.D(), r)
	}
	if len(e.Brokers) > maxEnrolBrokers {
		return fieldErr("enrol.brokers", "%d brokers, at most %d", len(e.Brokers), maxEnrolBrokers)
	}
	for i, raw := range e.Brokers {
		f := fmt.Sprintf("enrol.brokers[%d]", i)
		if len(raw) > maxEnrolURL {
			return fieldErr(f, "longer than %d characters", maxEnrolURL)
		}
		u, err := url.Parse(raw)
		if err != nil {
			return fieldErr(f, "not a URL: %q", raw)
		}
		switch u.Scheme {
		case "ssl", "tls", "mqtts":
		default:
			// An enrolled device authenticates with its certificate: a
			// plain address would give it nothing to present it to.
			return fieldErr(f, "want a mutual-TLS address ssl://host:port, not %q", raw)
		}
		if host, port, err := splitHostPort(u.Host); err != nil || host == "" || port == "" {
			return fieldErr(f, "want ssl://host:port, not %q", raw)
		}
	}
	if e.BrokerCA != "" {
		if _, err := os.Stat(e.BrokerCA); err != nil {
			return fieldErr("enrol.broker_ca", "%v", err)
		}
	}
	if e.CRLFile == "" {
		return fieldErr("enrol.crl_file", "must be set")
	}
	if c := e.CodeExpiry.D(); c < minCodeExpiry || c > maxCodeExpiry {
		return fieldErr("enrol.code_expiry", "must be between %v and %v, not %v", minCodeExpiry, maxCodeExpiry, c)
	}
	return nil
}
