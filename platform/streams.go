package platform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/guichet/guichet/sync/envelope"
)

// migrations are the steps that follow the base schema, numbered by
// SQLite's user_version: step n runs once, in a transaction that sets
// user_version to n. Append new steps; never edit one that has shipped.
var migrations = []string{
	// 1: a sequence space per (device, outbox identity). A device's
	// store deleted, or restored and rekeyed, numbers from 1 again under a
	// new identity: a new stream, applied, never taken for duplicates. The
	// counters of the devices table become the release-1 stream (outbox
	// ''); records, held and rejects gain the outbox column, records and
	// rejects the payload's hash (conflicts, skips).
	`CREATE TABLE streams (
		tenant TEXT NOT NULL,
		device TEXT NOT NULL,
		outbox TEXT NOT NULL,          -- hex identity, '' for a release-1 store
		applied INTEGER NOT NULL DEFAULT 0,
		last_hash BLOB,
		first_seen INTEGER NOT NULL,
		last_seen INTEGER NOT NULL,
		PRIMARY KEY (tenant, device, outbox)
	) WITHOUT ROWID;
	INSERT INTO streams(tenant, device, outbox, applied, last_hash, first_seen, last_seen)
		SELECT tenant, device, '', applied, last_hash, 0, 0 FROM devices WHERE applied > 0;
	CREATE TABLE records_new (
		tenant TEXT NOT NULL,
		device TEXT NOT NULL,
		outbox TEXT NOT NULL DEFAULT '',
		seq INTEGER NOT NULL,
		key TEXT NOT NULL,
		type TEXT NOT NULL,
		body BLOB NOT NULL,
		hash BLOB,                     -- SHA-256 of the payload; NULL before streams
		status TEXT NOT NULL,
		reason TEXT NOT NULL DEFAULT '',
		result BLOB,
		wall INTEGER NOT NULL,
		applied_at INTEGER NOT NULL,
		instance TEXT NOT NULL,
		PRIMARY KEY (tenant, device, outbox, seq),
		UNIQUE (tenant, device, key)
	);
	INSERT INTO records_new(tenant, device, outbox, seq, key, type, body, status, reason, result, wall, applied_at, instance)
		SELECT tenant, device, '', seq, key, type, body, status, reason, result, wall, applied_at, instance FROM records ORDER BY tenant, device, seq;
	DROP TABLE records;
	ALTER TABLE records_new RENAME TO records;
	CREATE TABLE held_new (
		tenant TEXT NOT NULL,
		device TEXT NOT NULL,
		outbox TEXT NOT NULL DEFAULT '',
		seq INTEGER NOT NULL,
		payload BLOB NOT NULL,
		PRIMARY KEY (tenant, device, outbox, seq)
	);
	INSERT INTO held_new(tenant, device, seq, payload) SELECT tenant, device, seq, payload FROM held;
	DROP TABLE held;
	ALTER TABLE held_new RENAME TO held;
	ALTER TABLE rejects ADD COLUMN outbox TEXT NOT NULL DEFAULT '';
	ALTER TABLE rejects ADD COLUMN code TEXT NOT NULL DEFAULT '';
	ALTER TABLE rejects ADD COLUMN hash BLOB;
	CREATE INDEX rejects_stream ON rejects(tenant, device, outbox, seq);
	-- A stream position whose record carried a key applied before (in
	-- this stream or another): nothing applied, the answer kept.
	CREATE TABLE aliases (
		tenant TEXT NOT NULL,
		device TEXT NOT NULL,
		outbox TEXT NOT NULL,
		seq INTEGER NOT NULL,
		key TEXT NOT NULL,
		hash BLOB NOT NULL,
		status TEXT NOT NULL,
		reason TEXT NOT NULL DEFAULT '',
		result BLOB,
		PRIMARY KEY (tenant, device, outbox, seq)
	) WITHOUT ROWID;
	-- Rejected records an operator moved past (skip_rejected).
	CREATE TABLE skips (
		tenant TEXT NOT NULL,
		device TEXT NOT NULL,
		outbox TEXT NOT NULL,
		seq INTEGER NOT NULL,
		hash BLOB NOT NULL,
		reason TEXT NOT NULL,
		command TEXT NOT NULL,
		at INTEGER NOT NULL,
		PRIMARY KEY (tenant, device, outbox, seq)
	) WITHOUT ROWID;
	-- What the operator is told about: identity changes, conflicts, skips.
	CREATE TABLE events (
		n INTEGER PRIMARY KEY,
		tenant TEXT NOT NULL,
		device TEXT NOT NULL,
		outbox TEXT NOT NULL,
		kind TEXT NOT NULL,
		seq INTEGER NOT NULL DEFAULT 0,
		detail TEXT NOT NULL DEFAULT '',
		at INTEGER NOT NULL
	);
	CREATE INDEX events_device ON events(tenant, device, kind);`,
	// What the platform sees of each device's health (health.go): its
	// status or last will, and its last signed health report. One row
	// per device, written by whichever instance received the message.
	`CREATE TABLE device_health (
		tenant TEXT NOT NULL,
		device TEXT NOT NULL,
		online INTEGER NOT NULL DEFAULT 0,
		last_seen INTEGER NOT NULL DEFAULT 0,
		status_at INTEGER NOT NULL DEFAULT 0,
		depth INTEGER NOT NULL DEFAULT 0,
		degraded TEXT NOT NULL DEFAULT '[]',
		health_at INTEGER NOT NULL DEFAULT 0,
		health BLOB,
		instance TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (tenant, device)
	) WITHOUT ROWID;`,
}

// Event kinds.
const (
	// EventNewOutbox: a device sends under an outbox identity not seen
	// before while it had others: its store was deleted, replaced or
	// restored and rekeyed.
	EventNewOutbox = "new_outbox"
	// EventConflict: a record under a number the platform holds another
	// record for; the device was told to rekey.
	EventConflict = "conflict"
	// EventSkip: an operator moved a device past a rejected record.
	EventSkip = "skip"
)

// migrate runs the steps the store has not run yet.
func migrate(ctx context.Context, db *sql.DB) error {
	var have int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&have); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("migrations: the store is at schema %d, newer than this program's %d", have, len(migrations))
	}
	for n := have + 1; n <= len(migrations); n++ {
		err := func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			// Another process (the CLI beside guichet-platform run) may
			// have run this step since user_version was read: the
			// transaction holds the write lock (_txlock=immediate), so
			// what it reads now is settled.
			var now int
			if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&now); err != nil {
				return err
			}
			if now >= n {
				return nil
			}
			if _, err := tx.ExecContext(ctx, migrations[n-1]); err != nil {
				return err
			}
			// PRAGMA takes no parameters; n is this program's own number.
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, n)); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err != nil {
			return fmt.Errorf("migration %d: %w", n, err)
		}
	}
	return nil
}

// stream is one (device, outbox) sequence space while a batch is applied.
type stream struct {
	tenant, device string
	outbox         envelope.OutboxID
	applied        uint64
	last           []byte
	ack            *envelope.Ack
	dirty          bool
	// held says the stream may have records parked ahead of a gap.
	held bool
}

// loadStream reads a stream's position; a stream not seen before is
// recorded as an identity change when the device had others.
func loadStream(ctx context.Context, tx *sql.Tx, r *envelope.Record, now int64) (*stream, error) {
	st := &stream{tenant: r.Tenant, device: r.Device, outbox: r.Outbox,
		ack: &envelope.Ack{Tenant: r.Tenant, Device: r.Device, Outbox: r.Outbox, At: now}}
	ob := r.Outbox.String()
	err := tx.QueryRowContext(ctx, `SELECT applied, last_hash FROM streams WHERE tenant=? AND device=? AND outbox=?`, r.Tenant, r.Device, ob).Scan(&st.applied, &st.last)
	switch {
	case err == nil:
	case errors.Is(err, sql.ErrNoRows):
		var others int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM streams WHERE tenant=? AND device=?`, r.Tenant, r.Device).Scan(&others); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO streams(tenant, device, outbox, applied, first_seen, last_seen) VALUES(?,?,?,0,?,?)`, r.Tenant, r.Device, ob, now, now); err != nil {
			return nil, err
		}
		if others > 0 {
			if err := addEvent(ctx, tx, r.Tenant, r.Device, r.Outbox, EventNewOutbox, 0,
				fmt.Sprintf("outbox %q numbers from 1 again; the device had %d outbox(es) before: its store was deleted, replaced or restored", ob, others), now); err != nil {
				return nil, err
			}
		}
	default:
		return nil, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS(SELECT 1 FROM held WHERE tenant=? AND device=? AND outbox=?)`, r.Tenant, r.Device, ob).Scan(&st.held); err != nil {
		return nil, err
	}
	return st, nil
}

func addEvent(ctx context.Context, tx *sql.Tx, tenant, device string, ob envelope.OutboxID, kind string, seq uint64, detail string, now int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events(tenant, device, outbox, kind, seq, detail, at) VALUES(?,?,?,?,?,?,?)`, tenant, device, ob.String(), kind, seq, detail, now)
	return err
}

// heldAnswer is what the platform holds under a stream position already
// passed: the applied record, an alias of an earlier key, or a skip.
type heldAnswer struct {
	hash []byte // nil when unknown (records applied before streams)
	res  envelope.Result
}

// positionAnswer returns what the platform holds at r's position, or nil.
func positionAnswer(ctx context.Context, tx *sql.Tx, r *envelope.Record) (*heldAnswer, error) {
	ob := r.Outbox.String()
	var a heldAnswer
	var body []byte
	err := tx.QueryRowContext(ctx, `SELECT key, hash, status, reason, result FROM records WHERE tenant=? AND device=? AND outbox=? AND seq=?
		UNION ALL SELECT key, hash, status, reason, result FROM aliases WHERE tenant=? AND device=? AND outbox=? AND seq=?
		UNION ALL SELECT '', hash, 'skipped', reason, NULL FROM skips WHERE tenant=? AND device=? AND outbox=? AND seq=?
		LIMIT 1`,
		r.Tenant, r.Device, ob, r.Seq, r.Tenant, r.Device, ob, r.Seq, r.Tenant, r.Device, ob, r.Seq).Scan(&a.res.Key, &a.hash, &a.res.Status, &a.res.Reason, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if a.res.Key == "" {
		a.res.Key = r.Key
	}
	a.res.Seq, a.res.Body = r.Seq, body
	return &a, nil
}

// keyAnswer returns the result given when key was applied by the device,
// under whichever stream, or nil.
func keyAnswer(ctx context.Context, q *sql.Stmt, r *envelope.Record) (*envelope.Result, string, error) {
	var res envelope.Result
	var ob string
	var body []byte
	err := q.QueryRowContext(ctx, r.Tenant, r.Device, r.Key).Scan(&ob, &res.Status, &res.Reason, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	res.Seq, res.Key, res.Body = r.Seq, r.Key, body
	return &res, ob, nil
}

// ErrNotBlocked is returned by RecordSkip when no rejected record blocks
// the stream at that number.
var ErrNotBlocked = errors.New("platform: no rejected record blocks that outbox at that number")

// RecordSkip records that the operator moves a device past its rejected
// record seq of outbox ob, by command: a skips row and an event, and the
// stream advances over the record, taking the rejected payload's hash as
// the link, so the device's next record, which chains to the skipped one,
// is accepted, and a broken chain anywhere else is still refused. It runs
// before the skip_rejected command is sent; a device that does not get
// the command learns of the skip when it sends the record again (its
// result says "skipped").
func (s *Store) RecordSkip(ctx context.Context, tenant, device string, ob envelope.OutboxID, seq uint64, reason, command string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var applied uint64
	err = tx.QueryRowContext(ctx, `SELECT applied FROM streams WHERE tenant=? AND device=? AND outbox=?`, tenant, device, ob.String()).Scan(&applied)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s/%s has no outbox %q", ErrNotBlocked, tenant, device, ob)
	}
	if err != nil {
		return err
	}
	var hash []byte
	err = tx.QueryRowContext(ctx, `SELECT hash FROM rejects WHERE tenant=? AND device=? AND outbox=? AND seq=? AND hash IS NOT NULL ORDER BY at DESC LIMIT 1`,
		tenant, device, ob.String(), seq).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && seq != applied+1) {
		return fmt.Errorf("%w: %s/%s outbox %q is at %d, seq %d", ErrNotBlocked, tenant, device, ob, applied, seq)
	}
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT INTO skips(tenant, device, outbox, seq, hash, reason, command, at) VALUES(?,?,?,?,?,?,?,?)`,
		tenant, device, ob.String(), seq, hash, reason, command, now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE streams SET applied=?, last_hash=?, last_seen=? WHERE tenant=? AND device=? AND outbox=?`,
		seq, hash, now, tenant, device, ob.String()); err != nil {
		return err
	}
	if err := addEvent(ctx, tx, tenant, device, ob, EventSkip, seq, fmt.Sprintf("command %s: %s", command, reason), now); err != nil {
		return err
	}
	return tx.Commit()
}

// Event is one entry of what the operator is told about.
type Event struct {
	Tenant string `json:"tenant"`
	Device string `json:"device"`
	Outbox string `json:"outbox"`
	Kind   string `json:"kind"`
	Seq    uint64 `json:"seq,omitempty"`
	Detail string `json:"detail"`
	At     int64  `json:"at"`
}

// Events returns the last n events, oldest first.
func (s *Store) Events(ctx context.Context, n int) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT tenant, device, outbox, kind, seq, detail, at FROM
		(SELECT * FROM events ORDER BY n DESC LIMIT ?) ORDER BY n`, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.Tenant, &e.Device, &e.Outbox, &e.Kind, &e.Seq, &e.Detail, &e.At); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
