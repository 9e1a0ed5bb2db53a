package emv

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/benchfig"
)

// medianNs runs f in rounds batches of n calls and returns the median time
// per call in nanoseconds, so that one slow batch (the other engineers'
// processes share the cores) does not move the figure.
func medianNs(rounds, n int, f func()) float64 {
	per := make([]float64, rounds)
	for r := range per {
		start := time.Now()
		for range n {
			f()
		}
		per[r] = float64(time.Since(start).Nanoseconds()) / float64(n)
	}
	slices.Sort(per)
	return per[rounds/2]
}

// BenchmarkPayload reports the cost of parsing and building the EMVCo
// example payload, each next to its anchor: encoding/json reading and
// writing the same fields as a JSON object.
func BenchmarkPayload(b *testing.B) {
	p, err := Parse(emvcoExample)
	if err != nil {
		b.Fatal(err)
	}
	js, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	var sink any
	parse := medianNs(15, 2000, func() {
		q, err := Parse(emvcoExample)
		if err != nil {
			b.Fatal(err)
		}
		sink = q
	})
	unmarshal := medianNs(15, 2000, func() {
		var q Payload
		if err := json.Unmarshal(js, &q); err != nil {
			b.Fatal(err)
		}
		sink = q
	})
	build := medianNs(15, 2000, func() {
		s, err := p.Build()
		if err != nil {
			b.Fatal(err)
		}
		sink = s
	})
	marshal := medianNs(15, 2000, func() {
		s, err := json.Marshal(p)
		if err != nil {
			b.Fatal(err)
		}
		sink = s
	})
	_ = sink
	benchfig.Report(b, "emv_parse_ns", parse, "ns")
	benchfig.Report(b, "emv_json_unmarshal_ns", unmarshal, "ns")
	benchfig.Report(b, "emv_build_ns", build, "ns")
	benchfig.Report(b, "emv_json_marshal_ns", marshal, "ns")
}
