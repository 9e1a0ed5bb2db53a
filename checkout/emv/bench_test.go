package emv

import (
	"encoding/json"
	"testing"

	"github.com/guichet/guichet/internal/benchfig"
)

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
	parse := benchfig.MedianNs(15, 2000, func() {
		q, err := Parse(emvcoExample)
		if err != nil {
			b.Fatal(err)
		}
		sink = q
	})
	unmarshal := benchfig.MedianNs(15, 2000, func() {
		var q Payload
		if err := json.Unmarshal(js, &q); err != nil {
			b.Fatal(err)
		}
		sink = q
	})
	build := benchfig.MedianNs(15, 2000, func() {
		s, err := p.Build()
		if err != nil {
			b.Fatal(err)
		}
		sink = s
	})
	marshal := benchfig.MedianNs(15, 2000, func() {
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
