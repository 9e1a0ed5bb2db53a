package enrol

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"os"
	"syscall"
	"time"

	"github.com/guichet/guichet/internal/atomicfile"
	"github.com/guichet/guichet/provision/claim"
)

// Device is one device of the registry, as `device list` shows it.
type Device struct {
	Tenant  string `json:"tenant"`
	Device  string `json:"device"`
	Site    string `json:"site"`
	Role    string `json:"role"`
	KeyKind string `json:"key_kind"`
	State   string `json:"state"`
	// Serial is the current certificate's, in hex.
	Serial     string     `json:"serial"`
	NotAfter   time.Time  `json:"not_after"`
	EnrolledAt time.Time  `json:"enrolled_at"`
	RenewedAt  *time.Time `json:"renewed_at,omitempty"`
}

// List returns the registry, by tenant and name.
func (s *Service) List(ctx context.Context) ([]Device, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT tenant,device,site,role,key_kind,state,serial,not_after,enrolled_at,renewed_at
		FROM enrol_devices ORDER BY tenant,device`)
	if err != nil {
		return nil, fmt.Errorf("enrol: list: %w", err)
	}
	defer rows.Close()
	out := []Device{}
	for rows.Next() {
		var d Device
		var notAfter, enrolled int64
		var renewed sql.NullInt64
		if err := rows.Scan(&d.Tenant, &d.Device, &d.Site, &d.Role, &d.KeyKind, &d.State, &d.Serial, &notAfter, &enrolled, &renewed); err != nil {
			return nil, fmt.Errorf("enrol: list: %w", err)
		}
		d.NotAfter, d.EnrolledAt = time.UnixMilli(notAfter).UTC(), time.UnixMilli(enrolled).UTC()
		if renewed.Valid {
			t := time.UnixMilli(renewed.Int64).UTC()
			d.RenewedAt = &t
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ErrNotEnrolled is returned for a device the registry does not hold.
var ErrNotEnrolled = errors.New("device not enrolled by code")

// Revoke marks a device revoked, revokes every certificate it holds and
// rewrites the CRL. The platform refuses its records from then on, and the
// broker its connections once it has read the CRL. A device enrolled by
// hand (enrol --key) gets a registry row saying it is revoked.
func (s *Service) Revoke(ctx context.Context, tenant, device string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("enrol: begin: %w", err)
	}
	defer tx.Rollback()
	now := s.cfg.Now().UnixMilli()
	res, err := tx.ExecContext(ctx, `UPDATE enrol_devices SET state=? WHERE tenant=? AND device=?`, StateRevoked, tenant, device)
	if err != nil {
		return fmt.Errorf("enrol: revoke: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM devices WHERE tenant=? AND device=?`, tenant, device).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("enrol: revoke %s: %w", claim.CommonName(tenant, device), ErrNotEnrolled)
		case err != nil:
			return fmt.Errorf("enrol: revoke: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO enrol_devices(tenant,device,site,role,key_kind,tls_key,serial,not_after,state,enrolled_at)
			VALUES(?,?,'','','',x'','',0,?,?)`, tenant, device, StateRevoked, now); err != nil {
			return fmt.Errorf("enrol: revoke: %w", err)
		}
	}
	if err := revokeCerts(ctx, tx, tenant, device, now); err != nil {
		return err
	}
	// A replacement code still out would bring the name back.
	if _, err := tx.ExecContext(ctx, `UPDATE enrol_codes SET expires=? WHERE tenant=? AND device=? AND used_at IS NULL AND expires>?`, now, tenant, device, now); err != nil {
		return fmt.Errorf("enrol: revoke: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("enrol: commit: %w", err)
	}
	return s.WriteCRL(ctx)
}

func revokeCerts(ctx context.Context, tx *sql.Tx, tenant, device string, now int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE enrol_certs SET revoked_at=? WHERE tenant=? AND device=? AND revoked_at IS NULL`, now, tenant, device); err != nil {
		return fmt.Errorf("enrol: revoke certificates: %w", err)
	}
	return nil
}

// Replace is for a box that died or was swapped: it revokes the device's
// certificates now, marks it replaced (its records are refused) and makes
// a code, valid for ttl, that only a box asking for the same name can use.
// That box keeps the binding (tenant, site, role, name) under its own new
// keys; the old box's keys are dead.
func (s *Service) Replace(ctx context.Context, tenant, device string, ttl time.Duration) (claim.Code, time.Time, error) {
	if ttl <= 0 {
		return "", time.Time{}, fmt.Errorf("enrol: code expiry %v", ttl)
	}
	code, err := claim.NewCode()
	if err != nil {
		return "", time.Time{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("enrol: begin: %w", err)
	}
	defer tx.Rollback()
	var site, role string
	err = tx.QueryRowContext(ctx, `SELECT site,role FROM enrol_devices WHERE tenant=? AND device=?`, tenant, device).Scan(&site, &role)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && !claim.ValidRole(role)):
		// Not enrolled by code (or revoked by hand without a binding):
		// there is no site and role to keep.
		return "", time.Time{}, fmt.Errorf("enrol: replace %s: %w", claim.CommonName(tenant, device), ErrNotEnrolled)
	case err != nil:
		return "", time.Time{}, fmt.Errorf("enrol: replace: %w", err)
	}
	now := s.cfg.Now()
	exp := now.Add(ttl)
	if _, err := tx.ExecContext(ctx, `UPDATE enrol_devices SET state=? WHERE tenant=? AND device=?`, StateReplaced, tenant, device); err != nil {
		return "", time.Time{}, fmt.Errorf("enrol: replace: %w", err)
	}
	if err := revokeCerts(ctx, tx, tenant, device, now.UnixMilli()); err != nil {
		return "", time.Time{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO enrol_codes(hash,tenant,site,role,device,created,expires) VALUES(?,?,?,?,?,?,?)`,
		code.Hash(), tenant, site, role, device, now.UnixMilli(), exp.UnixMilli()); err != nil {
		return "", time.Time{}, fmt.Errorf("enrol: replace: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", time.Time{}, fmt.Errorf("enrol: commit: %w", err)
	}
	return code, exp, s.WriteCRL(ctx)
}

// crlLife is how long a CRL is valid. OpenSSL (Mosquitto) refuses every
// client once its CRL is past its next update, so it is long; the platform
// writes a new one at every revocation and at every start.
const crlLife = 365 * 24 * time.Hour

// CRL signs the list of revoked certificates not yet expired.
func (s *Service) CRL(ctx context.Context) ([]byte, error) {
	now := s.cfg.Now()
	rows, err := s.db.QueryContext(ctx, `SELECT serial,revoked_at FROM enrol_certs WHERE revoked_at IS NOT NULL AND not_after>? ORDER BY serial`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("enrol: crl: %w", err)
	}
	defer rows.Close()
	var entries []x509.RevocationListEntry
	for rows.Next() {
		var hex string
		var at int64
		if err := rows.Scan(&hex, &at); err != nil {
			return nil, fmt.Errorf("enrol: crl: %w", err)
		}
		n, ok := new(big.Int).SetString(hex, 16)
		if !ok {
			return nil, fmt.Errorf("enrol: crl: serial %q in the store", hex)
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: time.UnixMilli(at)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("enrol: crl: %w", err)
	}
	// The CRL number only grows: the clock in milliseconds.
	return s.cfg.CA.CRL(entries, big.NewInt(now.UnixMilli()), now, now.Add(crlLife))
}

// WriteCRL writes the CRL to the configured file, atomically, so the broker
// reads the old list or the new one.
func (s *Service) WriteCRL(ctx context.Context) error {
	if s.cfg.CRLFile == "" {
		return nil
	}
	// One writer at a time across processes (run at its start, device
	// revoke beside it): a list computed before a revocation must not be
	// renamed over the one computed after it.
	lock, err := os.OpenFile(s.cfg.CRLFile+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("enrol: crl: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("enrol: crl: lock: %w", err)
	}
	b, err := s.CRL(ctx)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.cfg.CRLFile, b, 0o644); err != nil {
		return fmt.Errorf("enrol: crl: %w", err)
	}
	return nil
}

// KeepCRL writes the CRL every interval until ctx ends, so that the file
// stays far from its next update even when nothing is revoked for a long
// while: a broker reloading an expired CRL refuses every certificate.
func (s *Service) KeepCRL(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.WriteCRL(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("crl", "err", err)
			}
		}
	}
}
