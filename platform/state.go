package platform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/guichet/guichet/sync/envelope"
)

// State is a decider's durable memory: values by key, read and written
// inside the transaction that applies the batch. What a decision writes is
// therefore committed with the record that caused it, and rolled back with
// it when the batch fails. Get reports whether the key is there.
type State interface {
	Get(key string) ([]byte, bool, error)
	Put(key string, value []byte) error
}

// StatefulDecider is a Decider that remembers between records, for
// example a wallet's orders that later queries and refunds look up. When
// the Applier's Decider implements it, DecideIn is called instead of
// Decide, with the batch's State. An error fails the whole batch, as a
// store error does: nothing is committed or acked, and the devices send
// again. Like Decide, DecideIn is called once per record applied, never
// for a duplicate.
type StatefulDecider interface {
	Decider
	DecideIn(st State, r *envelope.Record) (envelope.Result, error)
}

// UpdateState runs fn with the decider's State in a transaction of its
// own, committed if fn returns nil: for what changes a decider's memory
// outside the records, such as a customer paying the shop's QR code. The
// applying transactions and this one are serialised by the store.
func (s *Store) UpdateState(ctx context.Context, fn func(State) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("platform: update state: %w", err)
	}
	defer tx.Rollback()
	st, closeState, err := prepareState(ctx, tx)
	if err != nil {
		return err
	}
	err = fn(st)
	closeState()
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("platform: update state: %w", err)
	}
	return nil
}

// txState is State over the applying transaction, in the decider_state
// table. Its statements are prepared once per batch, as Apply's are.
type txState struct {
	ctx      context.Context
	get, put *sql.Stmt
}

// prepareState prepares the State of a batch; close releases its
// statements.
func prepareState(ctx context.Context, tx *sql.Tx) (st *txState, close func(), err error) {
	get, err := tx.PrepareContext(ctx, `SELECT value FROM decider_state WHERE key=?`)
	if err != nil {
		return nil, nil, fmt.Errorf("platform: prepare decider state: %w", err)
	}
	put, err := tx.PrepareContext(ctx, `INSERT INTO decider_state(key,value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`)
	if err != nil {
		get.Close()
		return nil, nil, fmt.Errorf("platform: prepare decider state: %w", err)
	}
	return &txState{ctx: ctx, get: get, put: put}, func() { get.Close(); put.Close() }, nil
}

// Get implements State.
func (s *txState) Get(key string) ([]byte, bool, error) {
	var v []byte
	err := s.get.QueryRowContext(s.ctx, key).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("platform: decider state %q: %w", key, err)
	}
	return v, true, nil
}

// Put implements State.
func (s *txState) Put(key string, value []byte) error {
	if value == nil {
		// The column is NOT NULL; an empty value is still a value.
		value = []byte{}
	}
	if _, err := s.put.ExecContext(s.ctx, key, value); err != nil {
		return fmt.Errorf("platform: decider state %q: %w", key, err)
	}
	return nil
}
