package paycode

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/benchfig"
)

// medianNs runs f in rounds batches of n calls and returns the median time
// per call in nanoseconds, so that one slow batch (the cores are shared)
// does not move the figure.
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

// BenchmarkClassify reports the cost of classifying a WeChat Pay-style
// digit code and the EMVCo consumer-presented example 2, each next to its
// anchor: encoding/json reading a comparable object (the classified code
// as {"scheme","code"}, and the decoded CPM as JSON).
func BenchmarkClassify(b *testing.B) {
	const digits = "134567890123456789"
	digitsJSON := []byte(`{"scheme":"wechat_pay","code":"134567890123456789"}`)
	c, err := Classify(cpmExample2)
	if err != nil {
		b.Fatal(err)
	}
	cpmJSON, err := json.Marshal(c.CPM)
	if err != nil {
		b.Fatal(err)
	}
	var sink any
	classify := medianNs(15, 20000, func() {
		c, err := Classify(digits)
		if err != nil {
			b.Fatal(err)
		}
		sink = c
	})
	anchor := medianNs(15, 20000, func() {
		var v struct {
			Scheme string `json:"scheme"`
			Code   string `json:"code"`
		}
		if err := json.Unmarshal(digitsJSON, &v); err != nil {
			b.Fatal(err)
		}
		sink = v
	})
	cpm := medianNs(15, 2000, func() {
		c, err := Classify(cpmExample2)
		if err != nil {
			b.Fatal(err)
		}
		sink = c
	})
	cpmAnchor := medianNs(15, 2000, func() {
		var v CPM
		if err := json.Unmarshal(cpmJSON, &v); err != nil {
			b.Fatal(err)
		}
		sink = v
	})
	_ = sink
	benchfig.Report(b, "paycode_classify_ns", classify, "ns")
	benchfig.Report(b, "paycode_json_unmarshal_ns", anchor, "ns")
	benchfig.Report(b, "paycode_classify_cpm_ns", cpm, "ns")
	benchfig.Report(b, "paycode_cpm_json_unmarshal_ns", cpmAnchor, "ns")
}
