package audit

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"

	_ "modernc.org/sqlite" // the outbox's engine
)

// fileScanner reads the ledger table of an outbox database file, opened
// read-only, as sync/outbox lays it out (table ledger: bucket, k, v).
// TestVerifyFile checks it against a real outbox, so a change of that
// layout fails the test.
type fileScanner struct{ db *sql.DB }

func (f fileScanner) Scan(ctx context.Context, bucket, prefix string, fn func(string, []byte) bool) error {
	rows, err := f.db.QueryContext(ctx, `SELECT k,v FROM ledger WHERE bucket=? AND k >= ? ORDER BY k`, bucket, prefix)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if len(k) < len(prefix) || k[:len(prefix)] != prefix || !fn(k, v) {
			break
		}
	}
	return rows.Err()
}

// VerifyFile checks the log in the outbox database at path, read-only,
// while the daemon may be running: the technician's `guichet audit verify`.
func VerifyFile(ctx context.Context, path string) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro&_pragma=busy_timeout(5000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return 0, fmt.Errorf("audit: open %s: %w", path, err)
	}
	defer db.Close()
	n, err := Verify(ctx, fileScanner{db})
	if err != nil {
		return n, fmt.Errorf("audit: %s: %w", path, err)
	}
	return n, nil
}
