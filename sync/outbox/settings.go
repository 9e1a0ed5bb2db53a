package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/guichet/guichet/sync/envelope"
)

// Setting returns the value stored under key in the settings table, or
// nil if there is none.
func (s *Store) Setting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := s.r.QueryRowContext(ctx, `SELECT v FROM settings WHERE k = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: setting %s: %w", key, err)
	}
	return v, nil
}

// PutSetting stores value under key in the settings table and returns once
// it is on disk.
func (s *Store) PutSetting(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	err := s.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO settings(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v=excluded.v`, key, value)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: put setting %s: %w", key, err)
	}
	return nil
}

// Sign frames payload signed with the device key, as the records are:
// for the reports the link sends beside them (envelope.Applied). The key
// never leaves the store.
func (s *Store) Sign(payload []byte) []byte {
	return envelope.Seal(s.id.Key, payload)
}
