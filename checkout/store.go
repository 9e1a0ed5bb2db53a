package checkout

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The flow's rows live in the store's tables payments, refunds, orders,
// days and settings (sync/outbox/migrations.go). Writes run inside the
// transaction that commits the outbox record (Record.Write) or in an
// Update; reads use the store's read pool.

// settingsKey is the flow's row in the settings table.
const settingsKey = "checkout"

// savePayment writes p and its refunds.
func savePayment(tx *sql.Tx, p *Payment) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var ord any
	if p.Order != "" {
		ord = p.Order
	}
	if _, err := tx.Exec(`INSERT INTO payments(id, created, day, status, scheme, amount, discount, offline, loss, ord, doc)
		VALUES(?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET status=excluded.status, amount=excluded.amount, discount=excluded.discount,
			offline=excluded.offline, loss=excluded.loss, doc=excluded.doc`,
		p.ID, p.Created.UnixMilli(), p.Day, p.Status, p.Scheme, p.Amount, p.Discount, p.Offline, p.Loss, ord, doc); err != nil {
		return fmt.Errorf("checkout: save payment %s: %w", p.ID, err)
	}
	// Refunds are only ever added or answered, never removed.
	// A refund's business day is set once, when it is first written.
	for _, f := range p.Refunds {
		day, err := businessDay(context.Background(), tx, f.At)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO refunds(payment, n, amount, status, at, day) VALUES(?,?,?,?,?,?)
			ON CONFLICT(payment, n) DO UPDATE SET status=excluded.status`,
			p.ID, f.N, f.Amount, f.Status, f.At.UnixMilli(), day); err != nil {
			return fmt.Errorf("checkout: save refund %s/%s: %w", p.ID, f.N, err)
		}
	}
	return nil
}

func saveOrder(tx *sql.Tx, o *Order) error {
	doc, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO orders(id, created, day, doc) VALUES(?,?,?,?) ON CONFLICT(id) DO UPDATE SET doc=excluded.doc`,
		o.ID, o.Created.UnixMilli(), o.Day, doc); err != nil {
		return fmt.Errorf("checkout: save order %s: %w", o.ID, err)
	}
	return nil
}

// queryDoc reads one JSON doc into v; ok is false when there is no row.
func queryDoc(ctx context.Context, db *sql.DB, v any, query string, args ...any) (bool, error) {
	var doc []byte
	err := db.QueryRowContext(ctx, query, args...).Scan(&doc)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, json.Unmarshal(doc, v)
}

// queryPayments decodes the docs a query returns.
func queryPayments(ctx context.Context, db *sql.DB, query string, args ...any) ([]Payment, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var p Payment
		if err := json.Unmarshal(doc, &p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// queryIDs returns the ids a query returns.
func queryIDs(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// DefaultRetention is how long settled payments are kept.
const DefaultRetention = 400 * 24 * time.Hour

// pruneBatch bounds the rows one prune transaction deletes, so the group
// commit is never held up for long.
const pruneBatch = 500

// settled selects payments that may be pruned: decided for good, with
// no refund pending and no record still waiting for the platform's ack
// (the outbox holds the payment's own key and its "id:..." keys; ';'
// follows ':' in ASCII).
const settled = `status IN ('approved', 'declined', 'reversed', 'voided')
	AND NOT EXISTS (SELECT 1 FROM refunds f WHERE f.payment = payments.id AND f.status = 'pending')
	AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.key >= payments.id AND o.key < payments.id || ';')`

// Prune deletes settled payments created before now less the retention
// (Retention, default DefaultRetention), their refunds, and the orders
// left with no payment. It returns how many payments it deleted.
func (s *Service) Prune(ctx context.Context) (int, error) {
	keep := s.Retention
	if keep <= 0 {
		keep = DefaultRetention
	}
	cutoff := s.now().Add(-keep).UnixMilli()
	if err := s.pruneQR(ctx, cutoff); err != nil {
		return 0, err
	}
	total := 0
	for {
		var n int64
		err := s.Store.Update(ctx, func(tx *sql.Tx) error {
			if _, err := tx.Exec(`CREATE TEMP TABLE IF NOT EXISTS prune_ids (id TEXT PRIMARY KEY);
				DELETE FROM prune_ids`); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO prune_ids SELECT id FROM payments WHERE created < ? AND `+settled+` LIMIT ?`, cutoff, pruneBatch); err != nil {
				return err
			}
			if _, err := tx.Exec(`DELETE FROM refunds WHERE payment IN (SELECT id FROM prune_ids)`); err != nil {
				return err
			}
			res, err := tx.Exec(`DELETE FROM payments WHERE id IN (SELECT id FROM prune_ids)`)
			if err != nil {
				return err
			}
			n, _ = res.RowsAffected()
			_, err = tx.Exec(`DELETE FROM orders WHERE created < ? AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.ord = orders.id)`, cutoff)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("checkout: prune: %w", err)
		}
		total += int(n)
		if n < pruneBatch || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}
