package checkout

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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
	// ClosedBy is who closed the day, with the supervisor who authorised it.
	ClosedBy *Operator `json:"closed_by,omitempty"`
	// Schemes sums payments approved (online or offline, not voided) per
	// scheme; Sales is their total, before refunds.
	Schemes []SchemeTotal `json:"schemes"`
	Sales   int64         `json:"sales"`
	Count   int           `json:"count"`
	// Discounts sums what promotions took off.
	Discounts int64 `json:"discounts"`
	// Cash and Wallet split Sales between cash and the wallets (every
	// other scheme). CashRefunds is the cash paid back this day, refunds
	// of cash sales; CashDrawer what the drawer holds beyond its float:
	// Cash less CashRefunds.
	Cash        int64 `json:"cash"`
	CashCount   int   `json:"cash_count"`
	Wallet      int64 `json:"wallet"`
	WalletCount int   `json:"wallet_count"`
	CashRefunds int64 `json:"cash_refunds"`
	CashDrawer  int64 `json:"cash_drawer"`
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
	// QR sums the shop's QR orders of the day (qr.go); nil when none.
	QR *QRTotals `json:"qr,omitempty"`
}

// Report computes the report of day (2006-01-02, local time), or of the
// business day if day is empty; a closed day's report is the one stored
// when it was closed.
func (s *Service) Report(ctx context.Context, day string) (*Report, error) {
	if day == "" {
		d, err := s.BusinessDay(ctx)
		if err != nil {
			return nil, err
		}
		day = d
	}
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return nil, fmt.Errorf("%w: day %q: want 2006-01-02", ErrInput, clip(day))
	}
	if r, err := s.closedReport(ctx, day); err != nil || r != nil {
		return r, err
	}
	return s.compute(ctx, day)
}

// closedReport returns the report stored when day was closed, or nil.
func (s *Service) closedReport(ctx context.Context, day string) (*Report, error) {
	var r Report
	ok, err := queryDoc(ctx, s.Store.Reader(), &r, `SELECT report FROM days WHERE day = ?`, day)
	if err != nil {
		return nil, fmt.Errorf("checkout: closed day %s: %w", day, err)
	}
	if !ok {
		return nil, nil
	}
	return &r, nil
}

// compute sums the day's payments, grouped in SQL over the index on the
// business day, and the refunds made that business day, over theirs.
func (s *Service) compute(ctx context.Context, day string) (*Report, error) {
	r := &Report{Day: day, Currency: s.Currency, Schemes: []SchemeTotal{}}
	schemes := map[string]*SchemeTotal{}
	db := s.Store.Reader()
	rows, err := db.QueryContext(ctx, `SELECT status, scheme, offline, loss, count(*), sum(amount), sum(discount)
		FROM payments WHERE day = ? GROUP BY status, scheme, offline, loss`, day)
	if err != nil {
		return nil, fmt.Errorf("checkout: report %s: %w", day, err)
	}
	defer rows.Close()
	for rows.Next() {
		var status, scheme string
		var offline, loss bool
		var n int
		var amount, discount int64
		if err := rows.Scan(&status, &scheme, &offline, &loss, &n, &amount, &discount); err != nil {
			return nil, fmt.Errorf("checkout: report %s: %w", day, err)
		}
		switch status {
		case StatusApproved, StatusApprovedOffline:
			st := schemes[scheme]
			if st == nil {
				st = &SchemeTotal{Scheme: scheme}
				schemes[scheme] = st
			}
			st.Count += n
			st.Amount += amount
			r.Sales += amount
			r.Count += n
			r.Discounts += discount
			if scheme == SchemeCash {
				r.Cash += amount
				r.CashCount += n
			} else {
				r.Wallet += amount
				r.WalletCount += n
			}
		case StatusVoided:
			r.Voids += amount
			r.VoidCount += n
		case StatusDeclined:
			r.Declined += n
		case StatusReversed:
			r.Reversed += n
		case StatusUserPaying:
			r.UserPaying += n
		}
		if offline && (status == StatusApprovedOffline || status == StatusUserPaying) {
			r.OfflinePending += amount
			r.OfflinePendingCount += n
		}
		if loss {
			r.OfflineDeclined += amount
			r.OfflineDeclinedCount += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("checkout: report %s: %w", day, err)
	}
	// Refunds made this business day, whatever the payment's day.
	if err := db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(amount), 0) FROM refunds WHERE day = ? AND status != ?`,
		day, StatusDeclined).Scan(&r.RefundCount, &r.Refunds); err != nil {
		return nil, fmt.Errorf("checkout: report %s: refunds: %w", day, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT coalesce(sum(f.amount), 0) FROM refunds f JOIN payments p ON p.id = f.payment
		WHERE f.day = ? AND f.status != ? AND p.scheme = ?`, day, StatusDeclined, SchemeCash).Scan(&r.CashRefunds); err != nil {
		return nil, fmt.Errorf("checkout: report %s: cash refunds: %w", day, err)
	}
	r.CashDrawer = r.Cash - r.CashRefunds
	for _, st := range schemes {
		r.Schemes = append(r.Schemes, *st)
	}
	if err := s.addQR(ctx, r, day); err != nil {
		return nil, err
	}
	sort.Slice(r.Schemes, func(i, j int) bool { return r.Schemes[i].Scheme < r.Schemes[j].Scheme })
	r.Net = r.Sales - r.Refunds
	return r, nil
}

// CloseDay closes the business day (settlement): it stores the day's
// report, sends it to the platform as a day.close record, and from then
// on the day's payments can be refunded but no longer voided, and new
// payments belong to the next day. Closing again the same calendar day
// returns the closed day's report again: the next business day is closed
// on its own date, not ahead of it.
func (s *Service) CloseDay(ctx context.Context) (*Report, error) {
	now := s.now()
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	day, err := s.BusinessDay(ctx)
	if err != nil {
		return nil, err
	}
	if today := dayOf(now); day > today {
		return s.closedReport(ctx, today)
	}
	// New payments are not under ledgerMu but wait on closeMu, so none is
	// written between compute and the insert. The insert still checks
	// that the day's rows are those counted, else computes again.
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	for attempt := 1; ; attempt++ {
		r, err := s.closeOnce(ctx, day, now)
		if errors.Is(err, errDayMoved) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("checkout: close day %s: %w", day, err)
		}
		s.log().Info("day closed", "day", day, "count", r.Count, "sales", r.Sales)
		return r, nil
	}
}

func (s *Service) closeOnce(ctx context.Context, day string, now time.Time) (*Report, error) {
	n, err := dayRows(ctx, s.Store.Reader(), day)
	if err != nil {
		return nil, err
	}
	r, err := s.compute(ctx, day)
	if err != nil {
		return nil, err
	}
	r.Closed, r.ClosedAt = true, now
	if op := OperatorOf(ctx); op != (Operator{}) {
		r.ClosedBy = &op
	}
	b, _ := json.Marshal(r)
	_, err = s.Store.Append(ctx, outbox.Record{Key: "day-" + day, Type: RecordDayClose, Schema: 1, Body: b,
		Write: func(tx *sql.Tx) error {
			if m, err := dayRows(context.WithoutCancel(ctx), tx, day); err != nil {
				return err
			} else if m != n {
				return errDayMoved
			}
			_, err := tx.Exec(`INSERT INTO days(day, report) VALUES(?, ?) ON CONFLICT(day) DO NOTHING`, day, b)
			return err
		}})
	return r, err
}
