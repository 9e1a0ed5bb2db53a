package checkout

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/guichet/guichet/sync/outbox"
)

// Defaults of the uncertain-result handling.
const (
	DefaultPollEvery      = 5 * time.Second
	DefaultConfirmTimeout = 45 * time.Second
)

func (s *Service) pollEvery() time.Duration {
	if s.PollEvery > 0 {
		return s.PollEvery
	}
	return DefaultPollEvery
}

func (s *Service) confirmTimeout() time.Duration {
	if s.ConfirmTimeout > 0 {
		return s.ConfirmTimeout
	}
	return DefaultConfirmTimeout
}

// Run drives the payments waiting for the customer's confirmation until
// ctx ends: it sends a payment.query every PollEvery, and a
// payment.reverse once ConfirmTimeout has passed since the payment was
// taken with no final answer. Their state is in the store, so after a
// restart Run picks up where the last one stopped. It also prunes settled
// payments older than Retention, at start and once a day. It returns
// ctx's error.
func (s *Service) Run(ctx context.Context) error {
	var pruned time.Time
	tick := s.pollEvery() / 4
	if tick < 10*time.Millisecond {
		tick = 10 * time.Millisecond
	}
	if tick > time.Second {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if now := s.now(); pruned.IsZero() || now.Sub(pruned) >= 24*time.Hour {
			pruned = now
			if n, err := s.Prune(ctx); err != nil {
				s.log().Error("prune", "err", err)
			} else if n > 0 {
				s.log().Info("settled payments pruned", "count", n)
			}
		}
		s.Drive(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Drive does one round of Run's work: a query or a reverse for each
// payment that is due one, and the expiry of the QR orders past theirs.
func (s *Service) Drive(ctx context.Context) {
	s.expireQR(ctx)
	// The condition is the partial index payments_open's.
	ids, err := queryIDs(ctx, s.Store.Reader(), `SELECT id FROM payments WHERE status = 'user_paying'`)
	if err != nil {
		s.log().Error("open payments", "err", err)
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		if _, err := s.update(ctx, id, s.step); err != nil {
			s.log().Error("drive payment", "payment", id, "err", err)
		}
	}
}

// step decides what payment p, waiting for the customer, needs now.
func (s *Service) step(p *Payment) (*outbox.Record, bool, error) {
	if p.Status != StatusUserPaying {
		// Decided meanwhile.
		return nil, false, nil
	}
	now := s.now()
	if now.Sub(p.Created) >= s.confirmTimeout() {
		p.Status, p.Reason = StatusReversed, "no confirmation from the customer in time"
		p.Loss = p.Offline
		b, _ := json.Marshal(ReverseBody{ID: p.ID, Amount: p.Amount, Reason: "timeout"})
		return &outbox.Record{Key: p.ID + ":reverse", Type: RecordPaymentReverse, Schema: 1, Body: b}, true, nil
	}
	// One query at a time: the next goes once the last was answered, so a
	// slow link does not pile them up.
	if p.Answered < p.Queries || now.Sub(p.LastQuery) < s.pollEvery() {
		return nil, false, nil
	}
	p.Queries++
	p.LastQuery = now
	b, _ := json.Marshal(QueryBody{ID: p.ID, N: p.Queries})
	return &outbox.Record{Key: p.ID + ":query:" + strconv.Itoa(p.Queries), Type: RecordPaymentQuery, Schema: 1, Body: b}, true, nil
}
