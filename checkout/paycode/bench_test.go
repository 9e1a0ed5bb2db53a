package paycode

import (
	"encoding/json"
	"testing"

	"github.com/guichet/guichet/internal/benchfig"
)

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
	classify := benchfig.MedianNs(15, 20000, func() {
		c, err := Classify(digits)
		if err != nil {
			b.Fatal(err)
		}
		sink = c
	})
	anchor := benchfig.MedianNs(15, 20000, func() {
		var v struct {
			Scheme string `json:"scheme"`
			Code   string `json:"code"`
		}
		if err := json.Unmarshal(digitsJSON, &v); err != nil {
			b.Fatal(err)
		}
		sink = v
	})
	cpm := benchfig.MedianNs(15, 2000, func() {
		c, err := Classify(cpmExample2)
		if err != nil {
			b.Fatal(err)
		}
		sink = c
	})
	cpmAnchor := benchfig.MedianNs(15, 2000, func() {
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
