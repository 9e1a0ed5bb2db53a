// Package benchfig names the figures that `make bench` prints.
//
// A figure is reported from inside a Go benchmark as a custom metric whose
// unit carries the figure's name ("ms@decode_ms_720p_code"). The command
// benchfmt reads `go test -bench` output and prints one line per figure in
// the form scripts rely on: `bench NAME VALUE UNIT`.
//
// Benchmarks that report figures are run with -benchtime=1x and do their own
// timing loops, so a figure is computed once per run, next to its anchor.
package benchfig

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Report records the figure name with value in unit on b.
func Report(b *testing.B, name string, value float64, unit string) {
	b.Helper()
	if strings.ContainsAny(name+unit, " \t@") || name == "" || unit == "" {
		panic(fmt.Sprintf("benchfig: bad figure %q unit %q", name, unit))
	}
	b.ReportMetric(value, unit+"@"+name)
}

// Figure is one parsed figure.
type Figure struct {
	Name  string
	Value string
	Unit  string
}

// Parse extracts figures from one line of `go test -bench` output.
// A line such as "BenchmarkX-2  1  5 ns/op  12.5 ms@decode_ms" yields
// {decode_ms, 12.5, ms}.
func Parse(line string) []Figure {
	fields := strings.Fields(line)
	if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
		return nil
	}
	var out []Figure
	for i := 2; i+1 < len(fields); i += 2 {
		unit, name, ok := strings.Cut(fields[i+1], "@")
		if !ok {
			continue
		}
		out = append(out, Figure{Name: name, Value: fields[i], Unit: unit})
	}
	return out
}

// MedianNs runs f in rounds batches of n calls and returns the median time
// per call in nanoseconds, so that one slow batch (the cores are shared)
// does not move the figure. With n = 1 it is the median of rounds calls.
func MedianNs(rounds, n int, f func()) float64 {
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

// MedianMs is MedianNs(n, 1, f) in milliseconds: the median of n calls.
func MedianMs(n int, f func()) float64 { return MedianNs(n, 1, f) / 1e6 }
