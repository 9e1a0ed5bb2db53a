// Package enrol is the platform's side of enrolment by one-time code
// (provision/claim): its CA, the codes it hands out, the registry of the
// devices it enrolled, their renewals and their revocation.
//
// The codes, the registry and the certificates issued live in the
// platform's SQLite store (platform.Store), beside the record keys: a
// device's binding, its record key and the use of its code are written in
// one transaction, so a code is used once, by one device, whichever
// instance answers.
package enrol

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/sync/envelope"
)

// Reasons a request or a renewal is refused, as the device reads them in
// Response.Error and Issued.Error, and as they are counted.
const (
	ReasonUnknownCode  = "unknown code"
	ReasonCodeUsed     = "code already used"
	ReasonCodeExpired  = "code expired"
	ReasonNameTaken    = "device name taken"
	ReasonOtherDevice  = "replacement code is for another device"
	ReasonBadRequest   = "bad request"
	ReasonNotEnrolled  = "device not enrolled"
	ReasonRevoked      = "device revoked"
	ReasonKeyDiffers   = "key is not the enrolled key"
	ReasonBadTopic     = "bad topic"
	ReasonInternal     = "platform error"
	reasonReservedName = "tenant name reserved"
)

// Device states in the registry.
const (
	StateActive   = "active"
	StateRevoked  = "revoked"
	StateReplaced = "replaced"
)

// Config sets up a Service.
type Config struct {
	CA    *CA
	Store *platform.Store
	// PlatformKey is handed to enrolled devices: it signs acks, commands
	// and the configuration.
	PlatformKey ed25519.PublicKey
	// Brokers are the mutual-TLS addresses handed to enrolled devices.
	Brokers []string
	// BrokerCA is added to the CA bundle when the brokers' certificates
	// come from another CA.
	BrokerCA []byte
	// Validity of a device certificate.
	Validity time.Duration
	// CRLFile is where the revocation list is written for the broker.
	CRLFile string
	Logger  *slog.Logger
	// Now is the clock, time.Now when nil.
	Now func() time.Time
}

// Service enrols, renews and revokes devices.
type Service struct {
	cfg Config
	db  *sql.DB
	log *slog.Logger

	mu      sync.Mutex
	refused map[string]uint64
}

// New returns a service over cfg.
func New(cfg Config) (*Service, error) {
	if cfg.CA == nil || cfg.Store == nil {
		return nil, errors.New("enrol: CA and store are needed")
	}
	if cfg.Validity <= 0 {
		cfg.Validity = 30 * 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, db: cfg.Store.DB(), log: cfg.Logger.With("component", "enrol"), refused: map[string]uint64{}}, nil
}

// Bundle is the CA bundle handed to devices: the platform's CA, and the
// brokers' when it is another.
func (s *Service) Bundle() []byte {
	b := append([]byte{}, s.cfg.CA.PEM()...)
	return append(b, s.cfg.BrokerCA...)
}

// Refused returns the count of refusals by reason (none for a nil
// Service).
func (s *Service) Refused() map[string]uint64 {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(s.refused))
	for k, v := range s.refused {
		out[k] = v
	}
	return out
}

// refusal is a refused request: Reason goes to the device.
type refusal struct{ Reason string }

func (r *refusal) Error() string { return "enrol: refused: " + r.Reason }

func refuse(reason string) error { return &refusal{reason} }

// Reason returns the reason of a refusal, or "" for another error.
func Reason(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// codeKeep is how long a code that expired unused is kept, so that a
// technician who comes late is told "code expired" rather than "unknown
// code".
const codeKeep = 30 * 24 * time.Hour

// NewCode makes a one-time code enrolling a device of tenant at site in
// role, valid for ttl. Only its hash is stored.
func (s *Service) NewCode(ctx context.Context, tenant, site, role string, ttl time.Duration) (claim.Code, time.Time, error) {
	if err := CheckBinding(tenant, site, role); err != nil {
		return "", time.Time{}, err
	}
	if ttl <= 0 {
		return "", time.Time{}, fmt.Errorf("enrol: code expiry %v", ttl)
	}
	code, err := claim.NewCode()
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.cfg.Now()
	exp := now.Add(ttl)
	// Codes that expired unused a while ago say nothing worth keeping;
	// used ones stay, as the record of who enrolled what.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM enrol_codes WHERE used_at IS NULL AND expires<?`, now.Add(-codeKeep).UnixMilli()); err != nil {
		return "", time.Time{}, fmt.Errorf("enrol: code: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO enrol_codes(hash,tenant,site,role,created,expires) VALUES(?,?,?,?,?,?)`,
		code.Hash(), tenant, site, role, now.UnixMilli(), exp.UnixMilli()); err != nil {
		return "", time.Time{}, fmt.Errorf("enrol: code: %w", err)
	}
	return code, exp, nil
}

// CheckBinding checks the binding of a code: names fit for topics, the
// tenant not the provisioning subtree's, a known role.
func CheckBinding(tenant, site, role string) error {
	switch {
	case !envelope.ValidName(tenant):
		return fmt.Errorf("enrol: tenant %q: letters, digits, '-', '_' or '.', at most %d", tenant, envelope.MaxID)
	case tenant == "provision":
		// guichet/v1/provision/... is the unenrolled clients' subtree.
		return fmt.Errorf("enrol: tenant %q: %s", tenant, reasonReservedName)
	case !envelope.ValidName(site):
		return fmt.Errorf("enrol: site %q: letters, digits, '-', '_' or '.', at most %d", site, envelope.MaxID)
	case !claim.ValidRole(role):
		return fmt.Errorf("enrol: role %q: %s or %s", role, claim.RoleTill, claim.RoleCounter)
	}
	return nil
}

// Enrol answers a decoded request: it checks the code and the name,
// certifies the request's key, records the binding and the record key and
// uses the code, all in one transaction. A refusal is an error whose
// Reason is set.
func (s *Service) Enrol(ctx context.Context, req *claim.Request) (*claim.Response, error) {
	csr, err := claim.ParseCSR(req.CSR)
	if err != nil {
		return nil, refuse(ReasonBadRequest)
	}
	tlsKey, err := x509.MarshalPKIXPublicKey(csr.PublicKey)
	if err != nil {
		return nil, refuse(ReasonBadRequest)
	}
	now := s.cfg.Now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("enrol: begin: %w", err)
	}
	defer tx.Rollback()

	var c struct {
		tenant, site, role, device, usedBy string
		expires                            int64
		usedAt                             sql.NullInt64
	}
	err = tx.QueryRowContext(ctx, `SELECT tenant,site,role,device,expires,used_at,used_by FROM enrol_codes WHERE hash=?`, req.Code.Hash()).
		Scan(&c.tenant, &c.site, &c.role, &c.device, &c.expires, &c.usedAt, &c.usedBy)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// A mistyped code, a made-up one, or one from another platform.
		return nil, refuse(ReasonUnknownCode)
	case err != nil:
		return nil, fmt.Errorf("enrol: code: %w", err)
	}
	cur, err := s.current(ctx, tx, c.tenant, req.Device)
	if err != nil {
		return nil, err
	}
	retry := false
	switch {
	case c.usedAt.Valid:
		// The same box asking again with the same key (its answer was
		// lost) is answered again; anyone else is refused.
		if c.usedBy != claim.CommonName(c.tenant, req.Device) || cur == nil || cur.state != StateActive || string(cur.tlsKey) != string(tlsKey) {
			return nil, refuse(ReasonCodeUsed)
		}
		retry = true
	case now.UnixMilli() >= c.expires:
		return nil, refuse(ReasonCodeExpired)
	case c.device != "" && c.device != req.Device:
		return nil, refuse(ReasonOtherDevice)
	}
	if !retry && c.device == "" {
		// A new name, or the same box (its key) enrolling again. An
		// active name under another key, or one revoked or being
		// replaced, takes a replacement code.
		if cur != nil && (cur.state != StateActive || string(cur.tlsKey) != string(tlsKey)) {
			return nil, refuse(ReasonNameTaken)
		}
		if cur == nil {
			var rk []byte
			err := tx.QueryRowContext(ctx, `SELECT pubkey FROM devices WHERE tenant=? AND device=?`, c.tenant, req.Device).Scan(&rk)
			switch {
			case err == nil && string(rk) != string(req.RecordKey):
				// Enrolled by hand (enrol --key) with another key.
				return nil, refuse(ReasonNameTaken)
			case err != nil && !errors.Is(err, sql.ErrNoRows):
				return nil, fmt.Errorf("enrol: device: %w", err)
			}
		}
	}
	cn := claim.CommonName(c.tenant, req.Device)
	is, err := s.cfg.CA.IssueDevice(csr.PublicKey, cn, s.cfg.Validity, now)
	if err != nil {
		return nil, err
	}
	serial := is.Serial.Text(16)
	ms := now.UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT INTO enrol_devices(tenant,device,site,role,key_kind,tls_key,serial,not_after,state,enrolled_at)
		VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(tenant,device) DO UPDATE SET site=excluded.site, role=excluded.role,
		key_kind=excluded.key_kind, tls_key=excluded.tls_key, serial=excluded.serial, not_after=excluded.not_after,
		state=excluded.state, enrolled_at=excluded.enrolled_at, renewed_at=NULL`,
		c.tenant, req.Device, c.site, c.role, req.KeyKind, tlsKey, serial, is.NotAfter.UnixMilli(), StateActive, ms); err != nil {
		return nil, fmt.Errorf("enrol: record device: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO enrol_certs(serial,tenant,device,not_after) VALUES(?,?,?,?)`,
		serial, c.tenant, req.Device, is.NotAfter.UnixMilli()); err != nil {
		return nil, fmt.Errorf("enrol: record certificate: %w", err)
	}
	// The record key: a replaced box's key is overwritten, and with it
	// the old box's voice.
	if _, err := tx.ExecContext(ctx, `INSERT INTO devices(tenant,device,pubkey) VALUES(?,?,?)
		ON CONFLICT(tenant,device) DO UPDATE SET pubkey=excluded.pubkey`, c.tenant, req.Device, []byte(req.RecordKey)); err != nil {
		return nil, fmt.Errorf("enrol: record key: %w", err)
	}
	if !retry {
		if _, err := tx.ExecContext(ctx, `UPDATE enrol_codes SET used_at=?, used_by=? WHERE hash=? AND used_at IS NULL`, ms, cn, req.Code.Hash()); err != nil {
			return nil, fmt.Errorf("enrol: use code: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("enrol: commit: %w", err)
	}
	return &claim.Response{V: claim.Version, Tenant: c.tenant, Site: c.site, Role: c.role, Device: req.Device,
		Cert: is.DER, CA: s.Bundle(), PlatformKey: s.cfg.PlatformKey, Brokers: s.cfg.Brokers}, nil
}

// registered is a device's row in the registry.
type registered struct {
	state  string
	tlsKey []byte
}

func (s *Service) current(ctx context.Context, tx *sql.Tx, tenant, device string) (*registered, error) {
	var r registered
	err := tx.QueryRowContext(ctx, `SELECT state,tls_key FROM enrol_devices WHERE tenant=? AND device=?`, tenant, device).Scan(&r.state, &r.tlsKey)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("enrol: device: %w", err)
	}
	return &r, nil
}

// Renew certifies an enrolled, active device's key again. The request's
// key must be the enrolled one: a new key is enrolled with a replacement
// code, not slipped in by whoever holds the current certificate.
func (s *Service) Renew(ctx context.Context, tenant, device string, r *claim.Renewal) (*claim.Issued, error) {
	csr, err := claim.ParseCSR(r.CSR)
	if err != nil {
		return nil, refuse(ReasonBadRequest)
	}
	tlsKey, err := x509.MarshalPKIXPublicKey(csr.PublicKey)
	if err != nil {
		return nil, refuse(ReasonBadRequest)
	}
	now := s.cfg.Now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("enrol: begin: %w", err)
	}
	defer tx.Rollback()
	cur, err := s.current(ctx, tx, tenant, device)
	switch {
	case err != nil:
		return nil, err
	case cur == nil:
		return nil, refuse(ReasonNotEnrolled)
	case cur.state != StateActive:
		return nil, refuse(ReasonRevoked)
	case string(cur.tlsKey) != string(tlsKey):
		return nil, refuse(ReasonKeyDiffers)
	}
	is, err := s.cfg.CA.IssueDevice(csr.PublicKey, claim.CommonName(tenant, device), s.cfg.Validity, now)
	if err != nil {
		return nil, err
	}
	serial := is.Serial.Text(16)
	if _, err := tx.ExecContext(ctx, `UPDATE enrol_devices SET serial=?, not_after=?, renewed_at=? WHERE tenant=? AND device=?`,
		serial, is.NotAfter.UnixMilli(), now.UnixMilli(), tenant, device); err != nil {
		return nil, fmt.Errorf("enrol: renew: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO enrol_certs(serial,tenant,device,not_after) VALUES(?,?,?,?)`,
		serial, tenant, device, is.NotAfter.UnixMilli()); err != nil {
		return nil, fmt.Errorf("enrol: record certificate: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("enrol: commit: %w", err)
	}
	return &claim.Issued{V: claim.Version, Cert: is.DER}, nil
}
