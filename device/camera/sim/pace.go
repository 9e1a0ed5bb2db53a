package sim

import (
	"context"
	"time"
)

// pacer spaces frames by a period; a zero period does not wait.
type pacer struct {
	period time.Duration
	next   time.Time
}

// wait blocks until the next frame is due or ctx ends. A reader that
// falls behind is not made to catch up with a burst: the schedule
// restarts from now.
func (p *pacer) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.period <= 0 {
		return nil
	}
	now := time.Now()
	if p.next.IsZero() || now.Sub(p.next) > p.period {
		p.next = now
	}
	if d := p.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	p.next = p.next.Add(p.period)
	return nil
}

// periodOf returns the frame period for fps frames a second; 0 for none.
func periodOf(fps float64) time.Duration {
	if fps <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / fps)
}
