package enrol

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/provision/claim"
)

// BenchmarkEnrol measures the platform's side of one enrolment, from the
// request's payload to the answer's (decoding, the CSR's signature, the
// certificate, the transaction with a full sync), and of one renewal: the
// technician's wait that the platform adds to the network's. Medians of 40.
func BenchmarkEnrol(b *testing.B) {
	const n = 40
	for i := 0; i < b.N; i++ {
		e := newEnv(b)
		e.now = time.Now()
		ctx := context.Background()
		enrols, renews := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
		for j := 0; j < n; j++ {
			bx := newBox(b)
			code := e.code(b, "shop-1", "s", "till")
			p := bx.payload(b, code, fmt.Sprintf("till-%d", j))
			start := time.Now()
			_, reply := e.svc.HandleRequest(ctx, claim.RequestTopic(cid), p)
			enrols = append(enrols, time.Since(start))
			if _, err := claim.DecodeResponse(reply); err != nil {
				b.Fatal(err)
			}
			r, _ := claim.Encode(claim.Renewal{V: 1, CSR: bx.csr(b)})
			start = time.Now()
			_, reply = e.svc.HandleRenewal(ctx, claim.RenewTopic("shop-1", fmt.Sprintf("till-%d", j)), r)
			renews = append(renews, time.Since(start))
			if _, err := claim.DecodeIssued(reply); err != nil {
				b.Fatal(err)
			}
		}
		benchfig.Report(b, "enrol_ms", median(enrols), "ms")
		benchfig.Report(b, "renew_ms", median(renews), "ms")
	}
}

func median(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2].Microseconds()) / 1000
}
