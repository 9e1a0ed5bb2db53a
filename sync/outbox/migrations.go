package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"
)

// migrations is the store's schema, as the ordered list of steps that built
// it: step n (1-based) runs once, in a transaction of its own that also
// records n in schema_migrations, so a store of any past release opens at
// the current schema. Append new steps at the end; never edit one that has
// shipped.
//
// Every flow's tables are here, in one list, so the order of steps across
// flows is plain; the flows write their rows inside the transaction the
// store gives them (Record.Write, Update) and read them with Reader.
var migrations = []migration{
	// 1: the layout of the first release: the queue, its counters and the
	// key-value ledger the flows kept their data in. IF NOT EXISTS: a store
	// of that release has these tables and no record of migrations.
	{sql: `CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL);
	CREATE TABLE IF NOT EXISTS outbox (
		seq INTEGER PRIMARY KEY,
		key TEXT NOT NULL UNIQUE,
		type TEXT NOT NULL,
		frame BLOB NOT NULL,
		created INTEGER NOT NULL
	);
	CREATE TABLE IF NOT EXISTS ledger (
		bucket TEXT NOT NULL,
		k TEXT NOT NULL,
		v BLOB NOT NULL,
		PRIMARY KEY (bucket, k)
	) WITHOUT ROWID;`},

	// 2: the flows' tables. Times are Unix milliseconds; doc columns hold
	// the flow's own JSON of the row, the other columns what is queried.
	{sql: `CREATE TABLE payments (
		id TEXT PRIMARY KEY,
		created INTEGER NOT NULL,
		day TEXT NOT NULL,            -- business day, local date 2006-01-02
		status TEXT NOT NULL,
		scheme TEXT NOT NULL,
		amount INTEGER NOT NULL,      -- minor units, charged
		discount INTEGER NOT NULL DEFAULT 0,
		offline INTEGER NOT NULL DEFAULT 0,
		loss INTEGER NOT NULL DEFAULT 0,
		ord TEXT,                     -- split bill, or NULL
		doc BLOB NOT NULL
	);
	CREATE INDEX payments_created ON payments(created, id);
	CREATE INDEX payments_day ON payments(day);
	CREATE INDEX payments_open ON payments(id) WHERE status = 'user_paying';
	CREATE INDEX payments_offline ON payments(id) WHERE offline AND status IN ('approved_offline', 'user_paying', 'queued');
	CREATE INDEX payments_ord ON payments(ord) WHERE ord IS NOT NULL;
	CREATE TABLE refunds (
		payment TEXT NOT NULL,
		n TEXT NOT NULL,
		amount INTEGER NOT NULL,
		status TEXT NOT NULL,         -- pending, refunded, declined
		at INTEGER NOT NULL,
		PRIMARY KEY (payment, n)
	) WITHOUT ROWID;
	CREATE INDEX refunds_at ON refunds(at);
	CREATE TABLE orders (
		id TEXT PRIMARY KEY,
		created INTEGER NOT NULL,
		day TEXT NOT NULL,
		doc BLOB NOT NULL
	);
	CREATE INDEX orders_created ON orders(created);
	CREATE TABLE days (day TEXT PRIMARY KEY, report BLOB NOT NULL);
	CREATE TABLE settings (k TEXT PRIMARY KEY, v BLOB NOT NULL);
	CREATE TABLE activations (
		id TEXT PRIMARY KEY,
		subject TEXT NOT NULL,
		official TEXT NOT NULL,
		status TEXT NOT NULL,
		reason TEXT NOT NULL DEFAULT '',
		seq INTEGER NOT NULL DEFAULT 0,
		at INTEGER NOT NULL
	);
	CREATE TABLE officials (
		id TEXT PRIMARY KEY,
		salt BLOB NOT NULL,
		hash BLOB NOT NULL,
		iterations INTEGER NOT NULL,
		failures INTEGER NOT NULL DEFAULT 0,
		locked INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE audit (seq INTEGER PRIMARY KEY, entry BLOB NOT NULL);`},

	// 3: the ledger's entries move into the tables; its hand-kept indexes
	// (payments.open, payments.offline) are now the tables' indexes. An
	// entry moves only if it reads as its flow wrote it, and leaves the
	// ledger once moved. The officials' salts and hashes are base64 in the
	// JSON, decoded in Go (moveOfficials). Whatever could not be moved is
	// kept in ledger_unmigrated rather than lost, and the store still opens.
	{sql: `DELETE FROM ledger WHERE bucket IN ('payments.open', 'payments.offline');
	INSERT INTO payments(id, created, day, status, scheme, amount, discount, offline, loss, ord, doc)
		SELECT k, CAST(unixepoch(json_extract(v, '$.created'), 'subsec') * 1000 AS INTEGER),
			coalesce(json_extract(v, '$.day'), ''), json_extract(v, '$.status'), coalesce(json_extract(v, '$.scheme'), ''),
			json_extract(v, '$.amount'), coalesce(json_extract(v, '$.discount'), 0), coalesce(json_extract(v, '$.offline'), 0),
			coalesce(json_extract(v, '$.loss'), 0), json_extract(v, '$.order'), v
		FROM ledger WHERE bucket = 'payments' AND json_valid(v) AND json_type(v, '$.status') = 'text'
			AND json_type(v, '$.amount') = 'integer' AND json_type(v, '$.created') = 'text' AND unixepoch(json_extract(v, '$.created')) IS NOT NULL
			AND coalesce(json_type(v, '$.refunds'), 'array') = 'array';
	INSERT OR IGNORE INTO refunds(payment, n, amount, status, at)
		SELECT l.k, coalesce(json_extract(r.value, '$.n'), ''), coalesce(json_extract(r.value, '$.amount'), 0),
			coalesce(json_extract(r.value, '$.status'), 'pending'),
			coalesce(CAST(unixepoch(json_extract(r.value, '$.at'), 'subsec') * 1000 AS INTEGER), 0)
		FROM ledger l, json_each(l.v, '$.refunds') r
		WHERE l.bucket = 'payments' AND l.k IN (SELECT id FROM payments);
	DELETE FROM ledger WHERE bucket = 'payments' AND k IN (SELECT id FROM payments);
	INSERT INTO orders(id, created, day, doc)
		SELECT k, CAST(unixepoch(json_extract(v, '$.created'), 'subsec') * 1000 AS INTEGER), coalesce(json_extract(v, '$.day'), ''), v
		FROM ledger WHERE bucket = 'orders' AND json_valid(v) AND json_type(v, '$.created') = 'text' AND unixepoch(json_extract(v, '$.created')) IS NOT NULL;
	DELETE FROM ledger WHERE bucket = 'orders' AND k IN (SELECT id FROM orders);
	INSERT INTO days(day, report) SELECT k, v FROM ledger WHERE bucket = 'checkout.days' AND json_valid(v);
	DELETE FROM ledger WHERE bucket = 'checkout.days' AND k IN (SELECT day FROM days);
	INSERT INTO settings(k, v) SELECT 'checkout', v FROM ledger WHERE bucket = 'checkout.settings' AND k = 'settings' AND json_valid(v);
	INSERT INTO settings(k, v) SELECT 'audit.log', v FROM ledger WHERE bucket = 'audit-meta' AND k = 'log';
	DELETE FROM ledger WHERE (bucket, k) IN (VALUES ('audit-meta', 'log'), ('checkout.settings', 'settings'))
		AND v IN (SELECT v FROM settings);
	INSERT INTO activations(id, subject, official, status, reason, seq, at)
		SELECT k, coalesce(json_extract(v, '$.subject'), ''), coalesce(json_extract(v, '$.official'), ''), json_extract(v, '$.status'),
			coalesce(json_extract(v, '$.reason'), ''), coalesce(json_extract(v, '$.seq'), 0), coalesce(json_extract(v, '$.at'), 0)
		FROM ledger WHERE bucket = 'eid-act' AND json_valid(v) AND json_type(v, '$.status') = 'text';
	DELETE FROM ledger WHERE bucket = 'eid-act' AND k IN (SELECT id FROM activations);
	-- Audit entries move as they are, tampered or not: Verify judges them.
	INSERT OR IGNORE INTO audit(seq, entry)
		SELECT CAST(k AS INTEGER), v FROM ledger WHERE bucket = 'audit' AND k NOT GLOB '*[^0-9]*' AND CAST(k AS INTEGER) > 0;
	DELETE FROM ledger WHERE bucket = 'audit' AND (CAST(k AS INTEGER), v) IN (SELECT seq, entry FROM audit);`,
		fn: func(tx *sql.Tx) error {
			if err := moveOfficials(tx); err != nil {
				return err
			}
			var left int
			if err := tx.QueryRow(`SELECT count(*) FROM ledger`).Scan(&left); err != nil {
				return err
			}
			if left > 0 {
				_, err := tx.Exec(`ALTER TABLE ledger RENAME TO ledger_unmigrated`)
				return err
			}
			_, err := tx.Exec(`DROP TABLE ledger`)
			return err
		}},

	// 4: the outbox's identity, and the rejected and skipped records
	// (identity.go).
	migrationIdentity,

	// 5: refunds belong to a business day, as payments do: one made after
	// the day was closed counts in the next day's report. Earlier refunds
	// get the local calendar day of their time, as the report counted them.
	{sql: `ALTER TABLE refunds ADD COLUMN day TEXT NOT NULL DEFAULT '';
	UPDATE refunds SET day = date(at / 1000, 'unixepoch', 'localtime');
	CREATE INDEX refunds_day ON refunds(day);`},

	// The shop's dynamic QR codes as orders (checkout/qr.go): open until
	// paid, expired or cancelled. expires and status are columns for the
	// driver's query of the open ones, day for the report.
	{sql: `CREATE TABLE qr_orders (
		ref TEXT PRIMARY KEY,
		created INTEGER NOT NULL,
		expires INTEGER NOT NULL,
		day TEXT NOT NULL,
		status TEXT NOT NULL,
		amount INTEGER NOT NULL,
		doc BLOB NOT NULL
	);
	CREATE INDEX qr_orders_open ON qr_orders(expires) WHERE status IN ('open', 'sent');
	CREATE INDEX qr_orders_day ON qr_orders(day);`},

	// The till's people, cashiers and supervisors, with their PIN
	// hashes and their run of wrong PINs (staff.Staff).
	{sql: `CREATE TABLE staff (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		role TEXT NOT NULL,
		salt BLOB NOT NULL,
		hash BLOB NOT NULL,
		iterations INTEGER NOT NULL,
		failures INTEGER NOT NULL DEFAULT 0,
		locked INTEGER NOT NULL DEFAULT 0,
		created INTEGER NOT NULL
	);`},
}

// migration is one step: sql, then fn (if any).
type migration struct {
	sql string
	fn  func(tx *sql.Tx) error
}

// moveOfficials moves the officials' PIN records out of the ledger.
func moveOfficials(tx *sql.Tx) error {
	rows, err := tx.Query(`SELECT k, v FROM ledger WHERE bucket = 'eid-officials'`)
	if err != nil {
		return err
	}
	type official struct {
		Salt       []byte `json:"salt"`
		Hash       []byte `json:"hash"`
		Iterations int    `json:"iterations"`
		Failures   int    `json:"failures"`
		Locked     bool   `json:"locked"`
	}
	var ids []string
	var recs []official
	for rows.Next() {
		var id string
		var v []byte
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return err
		}
		var o official
		if json.Unmarshal(v, &o) != nil || len(o.Salt) == 0 || len(o.Hash) == 0 || o.Iterations <= 0 {
			continue // left in the ledger: see migration 3
		}
		ids, recs = append(ids, id), append(recs, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i, o := range recs {
		if _, err := tx.Exec(`INSERT INTO officials(id, salt, hash, iterations, failures, locked) VALUES(?,?,?,?,?,?)`,
			ids[i], o.Salt, o.Hash, o.Iterations, o.Failures, o.Locked); err != nil {
			return err
		}
		if _, err := tx.Exec(`DELETE FROM ledger WHERE bucket = 'eid-officials' AND k = ?`, ids[i]); err != nil {
			return err
		}
	}
	return nil
}

// Version is the schema version a store opened by this code is at.
var Version = len(migrations)

// migrate runs the steps the store has not run yet.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	var have int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("migrations: the store is at schema %d, newer than this program's %d", have, len(migrations))
	}
	for n := have + 1; n <= len(migrations); n++ {
		if err := migrateOne(ctx, db, n); err != nil {
			return fmt.Errorf("migration %d: %w", n, err)
		}
	}
	return nil
}

func migrateOne(ctx context.Context, db *sql.DB, n int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	m := migrations[n-1]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if m.fn != nil {
		if err := m.fn(tx); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, applied) VALUES(?, ?)`, n, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// ErrSchema is returned by OpenReadOnly for a store whose schema is not
// the one this program reads.
var ErrSchema = errors.New("outbox: the store's schema is not this program's: start the daemon once to migrate it")

// OpenReadOnly opens the store at path for reading its tables only, while
// the daemon may have it open: the technician's tools. The store must be
// at this program's schema.
func OpenReadOnly(ctx context.Context, path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&_pragma=busy_timeout(5000)&_pragma=query_only(1)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	var v int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil || v != Version {
		db.Close()
		return nil, fmt.Errorf("%w (%s: schema %d, want %d)", ErrSchema, path, v, Version)
	}
	return db, nil
}
