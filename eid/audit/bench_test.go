package audit

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/sync/outbox"
)

func medianMs(n int, f func(i int)) float64 {
	d := make([]float64, n)
	for i := range d {
		t0 := time.Now()
		f(i)
		d[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
	}
	sort.Float64s(d)
	return d[n/2]
}

// BenchmarkAppend reports the time to append one audit entry (row insert
// and upstream record in one commit), next to a bare outbox append of a
// record of the same size: the chain's own cost is the difference.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	s := openStore(b)
	l, err := Open(ctx, s, nil)
	if err != nil {
		b.Fatal(err)
	}
	e := Entry{Official: "off-7", Step: "match", Outcome: "match", Activation: "a0123456789abcdef01234567", Subject: "s0123456789abcdef0123456789abcdef", Score: 0.9}
	const n = 200
	benchfig.Report(b, "audit_append_ms", medianMs(n, func(int) {
		if _, err := l.Append(ctx, e); err != nil {
			b.Fatal(err)
		}
	}), "ms")
	body, _ := (&Entry{Seq: 1, Log: "0123456789abcdef", Step: "match", Outcome: "match", Activation: e.Activation, Subject: e.Subject, Score: 0.9}).Encode()
	benchfig.Report(b, "outbox_append_ms", medianMs(n, func(i int) {
		if _, err := s.Append(ctx, outbox.Record{Key: fmt.Sprintf("bare-%d", i), Type: "bench", Body: body}); err != nil {
			b.Fatal(err)
		}
	}), "ms")
	benchfig.Report(b, "audit_verify_ms_400", medianMs(5, func(int) {
		if _, err := l.Verify(ctx); err != nil {
			b.Fatal(err)
		}
	}), "ms")
}
