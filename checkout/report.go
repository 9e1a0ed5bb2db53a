package checkout

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/guichet/guichet/sync/outbox"
)

// SchemeTotal sums the payments of one scheme.
type SchemeTotal struct {
	Scheme string `json:"scheme"`
	Count  int    `json:"count"`
	Amount int64  `json:"amount"`
}

// Report is the end-of-day report of one business day. Amounts are in
// minor units.
type Report struct {
	Day      string    `json:"day"`
	Currency string    `json:"currency"`
	Closed   bool      `json:"closed"`
	ClosedAt time.Time `json:"closed_at,omitempty"`
	// Schemes sums payments approved (online or offline, not voided) per
	// scheme; Sales is their total, before refunds.
	Schemes []SchemeTotal `json:"schemes"`
	Sales   int64         `json:"sales"`
	Count   int           `json:"count"`
	// Discounts sums what promotions took off.
	Discounts int64 `json:"discounts"`
	// Refunds made this day (pending or done), whatever the payment's day.
	Refunds     int64 `json:"refunds"`
	RefundCount int   `json:"refund_count"`
	Voids       int64 `json:"voids"`
	VoidCount   int   `json:"void_count"`
	// Net is Sales less Refunds.
	Net      int64 `json:"net"`
	Declined int   `json:"declined"`
	Reversed int   `json:"reversed"`
	// UserPaying counts payments still waiting for the customer.
	UserPaying int `json:"user_paying"`
	// OfflinePending are payments approved offline that the platform has
	// not decided yet; OfflineDeclined those it declined (or that were
	// reversed) after the customer left: losses.
	OfflinePending       int64 `json:"offline_pending"`
	OfflinePendingCount  int   `json:"offline_pending_count"`
	OfflineDeclined      int64 `json:"offline_declined"`
	OfflineDeclinedCount int   `json:"offline_declined_count"`
}

// Report computes the report of day (2006-01-02, local time); a closed
// day's report is the one stored when it was closed.
func (s *Service) Report(ctx context.Context, day string) (*Report, error) {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return nil, fmt.Errorf("%w: day %q: want 2006-01-02", ErrInput, clip(day))
	}
	if b, ok, err := s.Store.Get(ctx, bucketDays, day); err != nil {
		return nil, err
	} else if ok {
		var r Report
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("checkout: closed day %s: %w", day, err)
		}
		return &r, nil
	}
	return s.compute(ctx, day)
}

func (s *Service) compute(ctx context.Context, day string) (*Report, error) {
	r := &Report{Day: day, Currency: s.Currency, Schemes: []SchemeTotal{}}
	schemes := map[string]*SchemeTotal{}
	err := s.Store.Scan(ctx, bucket, "pay-", func(_ string, v []byte) bool {
		var p Payment
		if json.Unmarshal(v, &p) != nil {
			return true
		}
		for _, f := range p.Refunds {
			if f.Status != StatusDeclined && dayOf(f.At) == day {
				r.Refunds += f.Amount
				r.RefundCount++
			}
		}
		if p.Day != day {
			return true
		}
		switch p.Status {
		case StatusApproved, StatusApprovedOffline:
			st := schemes[p.Scheme]
			if st == nil {
				st = &SchemeTotal{Scheme: p.Scheme}
				schemes[p.Scheme] = st
			}
			st.Count++
			st.Amount += p.Amount
			r.Sales += p.Amount
			r.Count++
			r.Discounts += p.Discount
		case StatusVoided:
			r.Voids += p.Amount
			r.VoidCount++
		case StatusDeclined:
			r.Declined++
		case StatusReversed:
			r.Reversed++
		case StatusUserPaying:
			r.UserPaying++
		}
		if p.Offline && (p.Status == StatusApprovedOffline || p.Status == StatusUserPaying) {
			r.OfflinePending += p.Amount
			r.OfflinePendingCount++
		}
		if p.Loss {
			r.OfflineDeclined += p.Amount
			r.OfflineDeclinedCount++
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("checkout: report %s: %w", day, err)
	}
	for _, st := range schemes {
		r.Schemes = append(r.Schemes, *st)
	}
	sort.Slice(r.Schemes, func(i, j int) bool { return r.Schemes[i].Scheme < r.Schemes[j].Scheme })
	r.Net = r.Sales - r.Refunds
	return r, nil
}

func (s *Service) dayClosed(ctx context.Context, day string) (bool, error) {
	_, ok, err := s.Store.Get(ctx, bucketDays, day)
	return ok, err
}

// CloseDay closes today (settlement): it stores the day's report, sends
// it to the platform as a day.close record, and from then on the day's
// payments can be refunded but no longer voided. Closing a closed day
// returns its report again.
func (s *Service) CloseDay(ctx context.Context) (*Report, error) {
	day := dayOf(s.now())
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	if b, ok, err := s.Store.Get(ctx, bucketDays, day); err != nil {
		return nil, err
	} else if ok {
		var r Report
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("checkout: closed day %s: %w", day, err)
		}
		return &r, nil
	}
	r, err := s.compute(ctx, day)
	if err != nil {
		return nil, err
	}
	r.Closed, r.ClosedAt = true, s.now()
	b, _ := json.Marshal(r)
	if _, err := s.Store.Append(ctx, outbox.Record{Key: "day-" + day, Type: RecordDayClose, Schema: 1, Body: b,
		Puts: []outbox.Put{{Bucket: bucketDays, Key: day, Value: b}}}); err != nil {
		return nil, fmt.Errorf("checkout: close day %s: %w", day, err)
	}
	s.log().Info("day closed", "day", day, "count", r.Count, "sales", r.Sales)
	return r, nil
}
