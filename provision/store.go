package provision

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/guichet/guichet/internal/atomicfile"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/provision/identity"
	"github.com/guichet/guichet/sync/envelope"
)

// Dir is the enrolment's directory under the state directory.
const Dir = "enrolment"

// Names of the enrolment's files in Dir.
const (
	CertFile        = "cert.pem"
	CAFile          = "ca.pem"
	PlatformKeyFile = "platform.pub"
	BindingFile     = "binding.json"
)

// ErrNotEnrolled says the state directory holds no enrolment.
var ErrNotEnrolled = errors.New("provision: not enrolled (run guichet provision --code CODE --broker URL)")

// Enrolment is what the platform gave the device: its binding, its
// certificate and whom to trust.
type Enrolment struct {
	// Binding recorded by the platform.
	Tenant, Site, Role, Device string
	// Brokers are the mutual-TLS addresses to connect to.
	Brokers []string
	// KeyKind is where the identity key lives.
	KeyKind identity.Kind
	// Cert is the device certificate, CN claim.CommonName(Tenant, Device).
	Cert *x509.Certificate
	// CA is the platform's PEM bundle; Pool holds the same certificates.
	CA   []byte
	Pool *x509.CertPool
	// PlatformKey signs acks, commands and the configuration.
	PlatformKey ed25519.PublicKey
	// At is when the device was enrolled.
	At time.Time
}

// binding is binding.json.
type binding struct {
	V        int       `json:"v"`
	Tenant   string    `json:"tenant"`
	Site     string    `json:"site"`
	Role     string    `json:"role"`
	Device   string    `json:"device"`
	Brokers  []string  `json:"brokers"`
	KeyKind  string    `json:"key_kind"`
	Enrolled time.Time `json:"enrolled"`
}

// maxBinding bounds binding.json: a few names and eight URLs.
const maxBinding = 8 << 10

// parseBinding reads binding.json strictly: unknown fields, bad names, a
// role the platform does not give or a broker that is not TLS are errors.
func parseBinding(p []byte) (*binding, error) {
	if len(p) > maxBinding {
		return nil, fmt.Errorf("%d bytes, more than %d", len(p), maxBinding)
	}
	var b binding
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after JSON")
	}
	if b.V != 1 {
		return nil, fmt.Errorf("version %d, want 1", b.V)
	}
	for _, f := range []struct{ name, v string }{{"tenant", b.Tenant}, {"site", b.Site}, {"device", b.Device}} {
		if !envelope.ValidName(f.v) {
			return nil, fmt.Errorf("%s %q is not a name", f.name, clip(f.v))
		}
	}
	if !claim.ValidRole(b.Role) {
		return nil, fmt.Errorf("role %q (till or counter)", clip(b.Role))
	}
	if k := identity.Kind(b.KeyKind); k != identity.KindTPM && k != identity.KindFile {
		return nil, fmt.Errorf("key_kind %q (tpm or file)", clip(b.KeyKind))
	}
	if err := checkBrokers(b.Brokers); err != nil {
		return nil, err
	}
	if b.Enrolled.IsZero() {
		return nil, errors.New("enrolled: missing")
	}
	return &b, nil
}

// checkBrokers accepts 1 to claim.MaxBrokers TLS addresses.
func checkBrokers(urls []string) error {
	if len(urls) == 0 || len(urls) > claim.MaxBrokers {
		return fmt.Errorf("%d brokers (1 to %d)", len(urls), claim.MaxBrokers)
	}
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || len(s) > claim.MaxURL || (u.Scheme != "ssl" && u.Scheme != "tls" && u.Scheme != "mqtts") || u.Hostname() == "" || u.Port() == "" {
			return fmt.Errorf("broker %q is not a TLS address (ssl://host:port)", clip(s))
		}
	}
	return nil
}

// parseCA reads a PEM bundle of CA certificates; anything else in it is
// an error rather than silently skipped.
func parseCA(p []byte) (*x509.CertPool, error) {
	if len(p) == 0 || len(p) > claim.MaxCA {
		return nil, fmt.Errorf("CA bundle: %d bytes (1 to %d)", len(p), claim.MaxCA)
	}
	pool := x509.NewCertPool()
	rest, n := p, 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("CA bundle: a %q block", clip(b.Type))
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
		if !c.IsCA {
			return nil, fmt.Errorf("CA bundle: %q is not a CA certificate", clip(c.Subject.CommonName))
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 || len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("CA bundle: not a PEM list of certificates")
	}
	return pool, nil
}

// parseCertPEM reads one PEM certificate.
func parseCertPEM(p []byte) (*x509.Certificate, error) {
	b, rest := pem.Decode(p)
	if b == nil || b.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 || len(b.Bytes) > claim.MaxCert {
		return nil, errors.New("not one PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// LoadEnrolment reads the enrolment under stateDir and checks that its
// files agree: the certificate names the binding's tenant/device and
// chains to the CA bundle. An expired certificate is not an error here:
// the daemon still starts (it takes payments offline) and says why it
// cannot connect. Without an enrolment the error is ErrNotEnrolled.
func LoadEnrolment(stateDir string) (*Enrolment, error) {
	dir := filepath.Join(stateDir, Dir)
	read := func(name string, max int64) ([]byte, error) {
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("provision: enrolment incomplete: %w", err)
		}
		defer f.Close()
		p, err := io.ReadAll(io.LimitReader(f, max+1))
		if err != nil {
			return nil, fmt.Errorf("provision: %w", err)
		}
		if int64(len(p)) > max {
			return nil, fmt.Errorf("provision: %s: more than %d bytes", path, max)
		}
		return p, nil
	}
	p, err := read(BindingFile, maxBinding)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, err
	}
	b, err := parseBinding(p)
	if err != nil {
		return nil, fmt.Errorf("provision: %s: %w", filepath.Join(dir, BindingFile), err)
	}
	e := &Enrolment{Tenant: b.Tenant, Site: b.Site, Role: b.Role, Device: b.Device, Brokers: b.Brokers, KeyKind: identity.Kind(b.KeyKind), At: b.Enrolled}
	if e.CA, err = read(CAFile, claim.MaxCA); err != nil {
		return nil, err
	}
	if e.Pool, err = parseCA(e.CA); err != nil {
		return nil, fmt.Errorf("provision: %s: %w", filepath.Join(dir, CAFile), err)
	}
	cp, err := read(CertFile, 2*claim.MaxCert)
	if err != nil {
		return nil, err
	}
	if e.Cert, err = parseCertPEM(cp); err != nil {
		return nil, fmt.Errorf("provision: %s: %w", filepath.Join(dir, CertFile), err)
	}
	cn := claim.CommonName(e.Tenant, e.Device)
	// Checked as of now or, for a certificate that has run out, as of
	// its last second: it still has to be ours.
	at := time.Now()
	if at.After(e.Cert.NotAfter) {
		at = e.Cert.NotAfter.Add(-time.Second)
	}
	if _, err := checkCert(e.Cert.Raw, e.Cert.PublicKey, e.Pool, cn, at); err != nil {
		return nil, fmt.Errorf("provision: %s: %w", filepath.Join(dir, CertFile), err)
	}
	if e.PlatformKey, err = keys.LoadPublic(filepath.Join(dir, PlatformKeyFile)); err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	return e, nil
}

// save writes the enrolment under stateDir, the binding last: a crash
// before it leaves the earlier enrolment's binding, or none, and
// LoadEnrolment refuses a certificate that does not match its binding.
func (e *Enrolment) save(stateDir string) error {
	dir := filepath.Join(stateDir, Dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	b, err := json.MarshalIndent(binding{V: 1, Tenant: e.Tenant, Site: e.Site, Role: e.Role, Device: e.Device,
		Brokers: e.Brokers, KeyKind: string(e.KeyKind), Enrolled: e.At.UTC()}, "", "  ")
	if err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{CertFile, certPEM(e.Cert)},
		{CAFile, e.CA},
		{PlatformKeyFile, []byte(keys.EncodePublic(e.PlatformKey) + "\n")},
		{BindingFile, append(b, '\n')},
	} {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			return fmt.Errorf("provision: %w", err)
		}
	}
	return nil
}

// saveCert replaces the certificate after a renewal.
func saveCert(stateDir string, c *x509.Certificate) error {
	if err := atomicfile.Write(filepath.Join(stateDir, Dir, CertFile), certPEM(c), 0o644); err != nil {
		return fmt.Errorf("provision: %w", err)
	}
	return nil
}
