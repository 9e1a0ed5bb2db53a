package checkout

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The business day is the day a payment, order or refund counts in:
// the local calendar day, until that day is closed (CloseDay); from then
// on, and until midnight, the next day. A payment taken at 22:00 after
// the cashier closed the day at 21:00 is in the next day's report, not
// in none. The day is chosen inside the transaction that writes the
// payment, so no payment lands on a day after its report was stored.

// querier is what reads the days table: the read pool or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// businessDay returns the business day at now: the local date of now, or
// the day after the last closed day if that is today or later.
func businessDay(ctx context.Context, q querier, now time.Time) (string, error) {
	today := dayOf(now)
	var last string
	if err := q.QueryRowContext(ctx, `SELECT coalesce(max(day), '') FROM days`).Scan(&last); err != nil {
		return "", fmt.Errorf("checkout: business day: %w", err)
	}
	if last < today {
		return today, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, last, time.Local)
	if err != nil {
		return "", fmt.Errorf("checkout: business day: closed day %q: %w", clip(last), err)
	}
	return t.AddDate(0, 0, 1).Format(time.DateOnly), nil
}

// BusinessDay returns the business day a payment taken now belongs to,
// the day `guichet report` shows by default.
func (s *Service) BusinessDay(ctx context.Context) (string, error) {
	return businessDay(ctx, s.Store.Reader(), s.now())
}

// errDayMoved says a payment or refund was written to the day being
// closed between its report's computation and its storing.
var errDayMoved = errors.New("checkout: the day changed while closing it")

// dayRows counts the payments and refunds of day, so that CloseDay can
// tell whether its report is still the day's.
func dayRows(ctx context.Context, q querier, day string) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM payments WHERE day = ?1) + (SELECT count(*) FROM refunds WHERE day = ?1)`, day).Scan(&n)
	return n, err
}
