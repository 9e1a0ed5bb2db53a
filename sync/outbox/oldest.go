package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Oldest returns when the oldest record not yet acked was appended, for
// the health report: a queue that is short but old is a link that is not
// moving. ok is false with an empty queue.
func (s *Store) Oldest(ctx context.Context) (at time.Time, ok bool, err error) {
	var created int64
	err = s.r.QueryRowContext(ctx, `SELECT created FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1`, s.acked.Load()).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("outbox: oldest: %w", err)
	}
	return time.UnixMilli(created), true, nil
}
