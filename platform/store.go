// Package platform is the platform's side of the sync protocol: it takes
// the devices' records from the broker, checks their signatures and chains,
// applies each exactly once and in order per device into a SQLite store
// shared by every instance, and answers with signed acks.
//
// Several instances may run side by side on one broker, sharing the load
// through an MQTT shared subscription and the store through SQLite's locks:
// the device's row is read and advanced inside one transaction, so whichever
// instance applies a record, it is applied once.
package platform

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the SQLite engine, in pure Go
)

// Store is the platform's durable state.
type Store struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS devices (
	tenant TEXT NOT NULL,
	device TEXT NOT NULL,
	pubkey BLOB NOT NULL,
	applied INTEGER NOT NULL DEFAULT 0,
	last_hash BLOB,
	duplicates INTEGER NOT NULL DEFAULT 0,
	rejected INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (tenant, device)
);
CREATE TABLE IF NOT EXISTS records (
	tenant TEXT NOT NULL,
	device TEXT NOT NULL,
	seq INTEGER NOT NULL,
	key TEXT NOT NULL,
	type TEXT NOT NULL,
	body BLOB NOT NULL,
	status TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	result BLOB,
	wall INTEGER NOT NULL,
	applied_at INTEGER NOT NULL,
	instance TEXT NOT NULL,
	PRIMARY KEY (tenant, device, seq),
	UNIQUE (tenant, device, key)
);
CREATE TABLE IF NOT EXISTS held (
	tenant TEXT NOT NULL,
	device TEXT NOT NULL,
	seq INTEGER NOT NULL,
	payload BLOB NOT NULL,
	PRIMARY KEY (tenant, device, seq)
);
CREATE TABLE IF NOT EXISTS rejects (
	tenant TEXT NOT NULL,
	device TEXT NOT NULL,
	seq INTEGER NOT NULL,
	reason TEXT NOT NULL,
	at INTEGER NOT NULL
);
-- What a StatefulDecider remembers between records (State). Created
-- here like the rest, so a store made before it gets it at the next open.
CREATE TABLE IF NOT EXISTS decider_state (
	key TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
-- Enrolment by one-time code (platform/enrol). A code is kept by its hash
-- (claim.Code.Hash), never in clear; device is set for a replacement code,
-- which only that name may use. used_by is tenant/device.
CREATE TABLE IF NOT EXISTS enrol_codes (
	hash TEXT PRIMARY KEY,
	tenant TEXT NOT NULL,
	site TEXT NOT NULL,
	role TEXT NOT NULL,
	device TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL,
	used_at INTEGER,
	used_by TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
-- The devices enrolled by code: their binding, the TLS key their
-- certificates certify (PKIX DER) and their state (active, revoked,
-- replaced). The record key is devices.pubkey, written in the same
-- transaction.
CREATE TABLE IF NOT EXISTS enrol_devices (
	tenant TEXT NOT NULL,
	device TEXT NOT NULL,
	site TEXT NOT NULL,
	role TEXT NOT NULL,
	key_kind TEXT NOT NULL,
	tls_key BLOB NOT NULL,
	serial TEXT NOT NULL,
	not_after INTEGER NOT NULL,
	state TEXT NOT NULL,
	enrolled_at INTEGER NOT NULL,
	renewed_at INTEGER,
	PRIMARY KEY (tenant, device)
) WITHOUT ROWID;
-- Every device certificate issued (serial in hex), so that revoking a
-- device revokes all its certificates still valid, renewed ones included.
CREATE TABLE IF NOT EXISTS enrol_certs (
	serial TEXT PRIMARY KEY,
	tenant TEXT NOT NULL,
	device TEXT NOT NULL,
	not_after INTEGER NOT NULL,
	revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS enrol_certs_device ON enrol_certs(tenant, device);
`

// OpenStore opens or creates the store at path.
func OpenStore(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("platform store: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("platform store: %w", err)
	}
	db.SetMaxOpenConns(2)
	// The schema goes in a write transaction taken at once (BEGIN
	// IMMEDIATE waits out another process's writer through busy_timeout).
	// Run outside one, its first CREATE read and then upgraded its lock,
	// and SQLite answers that upgrade SQLITE_BUSY at once, without
	// waiting, when another process (guichet-platform enrol-code beside
	// serve) opens the same new store at the same moment.
	if err := createSchema(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("platform store %s: %w", path, err)
	}
	if err := migrate(context.Background(), db); err != nil {
		db.Close()
		return nil, fmt.Errorf("platform store %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// DB is the store's database, for the packages that keep their own tables
// in it (platform/enrol writes a device's binding and its record key in one
// transaction).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Enrol registers a device's public key. Enrolling again with the same key
// is a no-op; another key for a known device is refused, as it would let
// someone else write in the device's name.
func (s *Store) Enrol(ctx context.Context, tenant, device string, key ed25519.PublicKey) error {
	if len(key) != ed25519.PublicKeySize {
		return errors.New("platform: enrol: not an Ed25519 public key")
	}
	var old []byte
	err := s.db.QueryRowContext(ctx, `SELECT pubkey FROM devices WHERE tenant=? AND device=?`, tenant, device).Scan(&old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = s.db.ExecContext(ctx, `INSERT INTO devices(tenant,device,pubkey) VALUES(?,?,?)`, tenant, device, []byte(key))
		return err
	case err != nil:
		return err
	case string(old) != string(key):
		return fmt.Errorf("platform: enrol: device %s/%s is enrolled with another key", tenant, device)
	}
	return nil
}

// DeviceKey returns the enrolled public key of a device.
func (s *Store) DeviceKey(ctx context.Context, tenant, device string) (ed25519.PublicKey, error) {
	var k []byte
	err := s.db.QueryRowContext(ctx, `SELECT pubkey FROM devices WHERE tenant=? AND device=?`, tenant, device).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnknownDevice
	}
	return ed25519.PublicKey(k), err
}

// ErrUnknownDevice is returned for a device that is not enrolled.
var ErrUnknownDevice = errors.New("unknown device")

// DeviceStats are one device's counters.
type DeviceStats struct {
	Tenant     string `json:"tenant"`
	Device     string `json:"device"`
	Applied    uint64 `json:"applied"`
	Duplicates uint64 `json:"duplicates"`
	Rejected   uint64 `json:"rejected"`
	// Held counts records parked ahead of a gap: a gap that stays is a
	// record the device has not sent (yet).
	Held uint64 `json:"held"`
	// Outboxes counts the device's outbox identities (streams); more than
	// one means its store was deleted, replaced or restored.
	Outboxes uint64 `json:"outboxes"`
	// IdentityChanges and Conflicts count those events (Events).
	IdentityChanges uint64 `json:"identity_changes"`
	Conflicts       uint64 `json:"conflicts"`
	Skips           uint64 `json:"skips"`
	// Blocked counts the device's outboxes stopped at a rejected record,
	// waiting for an operator's skip_rejected.
	Blocked uint64 `json:"blocked"`
}

// Stats returns the counters of every device.
func (s *Store) Stats(ctx context.Context) ([]DeviceStats, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.tenant,d.device,
		(SELECT coalesce(sum(s.applied),0) FROM streams s WHERE s.tenant=d.tenant AND s.device=d.device),
		d.duplicates,d.rejected,
		(SELECT COUNT(*) FROM held h WHERE h.tenant=d.tenant AND h.device=d.device),
		(SELECT COUNT(*) FROM streams s WHERE s.tenant=d.tenant AND s.device=d.device),
		(SELECT COUNT(*) FROM events e WHERE e.tenant=d.tenant AND e.device=d.device AND e.kind='new_outbox'),
		(SELECT COUNT(*) FROM events e WHERE e.tenant=d.tenant AND e.device=d.device AND e.kind='conflict'),
		(SELECT COUNT(*) FROM skips k WHERE k.tenant=d.tenant AND k.device=d.device),
		(SELECT COUNT(*) FROM streams s WHERE s.tenant=d.tenant AND s.device=d.device AND EXISTS(
			SELECT 1 FROM rejects r WHERE r.tenant=s.tenant AND r.device=s.device AND r.outbox=s.outbox AND r.seq=s.applied+1))
		FROM devices d ORDER BY d.tenant,d.device`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeviceStats
	for rows.Next() {
		var d DeviceStats
		if err := rows.Scan(&d.Tenant, &d.Device, &d.Applied, &d.Duplicates, &d.Rejected, &d.Held,
			&d.Outboxes, &d.IdentityChanges, &d.Conflicts, &d.Skips, &d.Blocked); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// AppliedRecord is a record as the platform applied it.
type AppliedRecord struct {
	Outbox string          `json:"outbox"`
	Seq    uint64          `json:"seq"`
	Key    string          `json:"key"`
	Type   string          `json:"type"`
	Status string          `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// Records lists a device's applied records in the order they were
// applied (in each outbox, by seq), for audits and tests.
func (s *Store) Records(ctx context.Context, tenant, device string) ([]AppliedRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT outbox,seq,key,type,status,body FROM records WHERE tenant=? AND device=? ORDER BY rowid`, tenant, device)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AppliedRecord
	for rows.Next() {
		var r AppliedRecord
		var body []byte
		if err := rows.Scan(&r.Outbox, &r.Seq, &r.Key, &r.Type, &r.Status, &body); err != nil {
			return nil, err
		}
		r.Body = body
		out = append(out, r)
	}
	return out, rows.Err()
}

func createSchema(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(schema + downlinkSchema); err != nil {
		return err
	}
	return tx.Commit()
}
