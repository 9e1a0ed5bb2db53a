package checkout

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/sync/envelope"
)

// TestPayAfterCloseDayIsNextBusinessDay: a payment (and a refund) taken
// after the day was closed belongs to the next business day, whose report
// shows it, and the closed day's report does not change.
func TestPayAfterCloseDayIsNextBusinessDay(t *testing.T) {
	s, _, c := newClocked(t)
	ctx := context.Background()
	const d, next = "2026-11-23", "2026-11-24"
	p1, _ := s.Pay(ctx, 700, wx)
	s.OnResult(envelope.Result{Seq: 1, Key: p1.ID, Status: StatusApproved})
	closed, err := s.CloseDay(ctx)
	if err != nil || closed.Day != d || closed.Sales != 700 || closed.Count != 1 {
		t.Fatalf("close %+v %v", closed, err)
	}

	c.Add(2 * time.Hour) // 12:00, still the 23rd
	if bd, err := s.BusinessDay(ctx); err != nil || bd != next {
		t.Fatalf("business day after close = %q, %v; want %s", bd, err, next)
	}
	p2, err := s.Pay(ctx, 500, wx)
	if err != nil || p2.Day != next {
		t.Fatalf("pay after close: %+v %v; want day %s", p2, err, next)
	}
	if got := mustGet(t, s, p2.ID); got.Day != next {
		t.Fatalf("stored day %s, want %s", got.Day, next)
	}
	s.OnResult(envelope.Result{Seq: 2, Key: p2.ID, Status: StatusApproved})
	if _, err := s.Refund(ctx, p1.ID, 200); err != nil {
		t.Fatal(err)
	}
	// A payment of the open business day can be voided; one of the closed day not.
	p3, _ := s.Pay(ctx, 50, wx)
	s.OnResult(envelope.Result{Seq: 3, Key: p3.ID, Status: StatusApproved})
	if _, err := s.Void(ctx, p3.ID); err != nil {
		t.Fatalf("void on the next business day: %v", err)
	}
	if _, err := s.Void(ctx, p1.ID); err == nil {
		t.Fatal("void of a payment of the closed day accepted")
	}

	before, err := s.Report(ctx, d)
	if err != nil || !before.Closed || before.Sales != 700 || before.Refunds != 0 || !before.ClosedAt.Equal(closed.ClosedAt) {
		t.Fatalf("closed day's report changed: %+v %v", before, err)
	}
	after, err := s.Report(ctx, next)
	if err != nil || after.Closed || after.Sales != 500 || after.Count != 1 || after.Refunds != 200 || after.VoidCount != 1 || after.Net != 300 {
		t.Fatalf("next business day's report: %+v %v", after, err)
	}
	if cur, err := s.Report(ctx, ""); err != nil || cur.Day != next {
		t.Fatalf("default report day %+v %v, want %s", cur, err, next)
	}

	// Closing again on the 23rd returns the 23rd's report: the 24th is
	// closed on its own date.
	again, err := s.CloseDay(ctx)
	if err != nil || again.Day != d || !again.ClosedAt.Equal(closed.ClosedAt) {
		t.Fatalf("second close on the same date: %+v %v", again, err)
	}
	if bd, _ := s.BusinessDay(ctx); bd != next {
		t.Fatalf("business day after a second close = %s, want %s", bd, next)
	}

	c.Add(22 * time.Hour) // the 24th, 10:00
	r24, err := s.CloseDay(ctx)
	if err != nil || r24.Day != next || r24.Sales != 500 || r24.Refunds != 200 {
		t.Fatalf("close of the 24th: %+v %v", r24, err)
	}
	if bd, _ := s.BusinessDay(ctx); bd != "2026-11-25" {
		t.Fatalf("business day after closing the 24th = %s", bd)
	}
}

// TestCloseDayWhilePaying: payments taken while the day closes are each
// in exactly one report, the closed day's or the next's.
func TestCloseDayWhilePaying(t *testing.T) {
	s, _, _ := newClocked(t)
	s.OfflinePerTransaction, s.OfflineTotal = 1000, 1000000
	s.Link = &linkFlag{} // offline: payments are approved at once
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Pay(ctx, 1, wx)
			errs <- err
		}()
	}
	closed, err := s.CloseDay(ctx)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	next, err := s.Report(ctx, "2026-11-24")
	if err != nil {
		t.Fatal(err)
	}
	if closed.Count+next.Count != n {
		t.Fatalf("closed day %d + next day %d payments, want %d", closed.Count, next.Count, n)
	}
	t.Logf("closed day %d, next day %d", closed.Count, next.Count)
}
