package checkout

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/benchfig"
)

// BenchmarkHistory measures, in one run, what the cashier waits for with
// 200 and with 200,000 payments of history: the recent list (20 newest),
// one day's report and one payment. The reported day holds the same 200
// payments in both cases, as a shop's day does whatever the store's age;
// the rest of the history lies on the 400 days before it. Target: each
// 200k figure within 1.5x of its 200 figure.
//
//	go test -run '^$' -bench History -benchtime=1x ./checkout/
func BenchmarkHistory(b *testing.B) {
	for range b.N {
		for _, h := range []struct {
			name string
			n    int
		}{{"200", 200}, {"200k", 200_000}} {
			recent, report, pay := historyFigures(b, h.n)
			benchfig.Report(b, "history_recent_ms_"+h.name, recent, "ms")
			benchfig.Report(b, "history_report_ms_"+h.name, report, "ms")
			benchfig.Report(b, "history_pay_ms_"+h.name, pay, "ms")
		}
	}
}

// historyFigures builds a store with n payments of history and returns
// the median ms per call of Recent(20), Report(today) and Pay.
func historyFigures(b *testing.B, n int) (recent, report, pay float64) {
	b.Helper()
	ctx := context.Background()
	s, _ := newService(b)
	s.Log = slog.New(slog.DiscardHandler)
	now := time.Date(2026, 11, 23, 18, 0, 0, 0, time.Local)
	s.Now = func() time.Time { return now }
	s.WaitOnline = 0 // Pay returns once stored: the figure is the commit's
	today := dayOf(now)
	const perDay = 200
	if err := fillHistory(ctx, s, n, perDay, now); err != nil {
		b.Fatal(err)
	}
	if ps, err := s.Recent(ctx, 20); err != nil || len(ps) != 20 {
		b.Fatalf("recent: %d, %v", len(ps), err)
	}
	if r, err := s.Report(ctx, today); err != nil || r.Count+r.Declined+r.VoidCount != perDay {
		b.Fatalf("report: %+v, %v", r, err)
	}
	recent = benchfig.MedianMs(51, func() {
		if _, err := s.Recent(ctx, 20); err != nil {
			b.Fatal(err)
		}
	})
	report = benchfig.MedianMs(51, func() {
		if _, err := s.Report(ctx, today); err != nil {
			b.Fatal(err)
		}
	})
	pay = benchfig.MedianMs(31, func() {
		if _, err := s.Pay(ctx, 1234, "134567890123456780"); err != nil {
			b.Fatal(err)
		}
	})
	return recent, report, pay
}

// fillHistory inserts n payments in one transaction through the tables
// the migrations made: perDay of them on now's day, the others spread
// over the 400 days before. One in ten has a refund.
func fillHistory(ctx context.Context, s *Service, n, perDay int, now time.Time) error {
	statuses := []string{StatusApproved, StatusApproved, StatusApproved, StatusDeclined, StatusVoided, StatusApproved}
	schemes := []string{"wechat_pay", "alipay", "unionpay"}
	return s.Store.Update(ctx, func(tx *sql.Tx) error {
		step := 400 * 24 * time.Hour / time.Duration(max(n-perDay, 1))
		for i := range n {
			at := now.Add(-time.Duration(i) * time.Minute)
			if i >= perDay {
				at = now.Add(-24*time.Hour - time.Duration(i-perDay)*step)
			}
			p := &Payment{ID: fmt.Sprintf("pay-%013x-%012x", at.UnixMilli(), i), Amount: int64(100 + i%5000), Currency: "CNY",
				Scheme: schemes[i%len(schemes)], CodeTail: "6780", CodeLen: 18, Status: statuses[i%len(statuses)],
				Created: at, Updated: at, Day: dayOf(at)}
			if i%10 == 0 && p.Status == StatusApproved {
				p.Refunds = []Refund{{N: "1", Amount: 50, Status: ResultRefunded, At: at.Add(time.Minute)}}
				p.Refunded = 50
			}
			if err := savePayment(tx, p); err != nil {
				return err
			}
		}
		return nil
	})
}
