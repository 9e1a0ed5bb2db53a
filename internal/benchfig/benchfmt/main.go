// Command benchfmt reads `go test -bench` output on standard input, passes it
// through to standard error, and prints every figure reported with
// benchfig.Report as `bench NAME VALUE UNIT` on standard output, in the
// order first seen (a figure reported twice keeps its last value).
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/guichet/guichet/internal/benchfig"
)

func main() {
	var order []string
	last := map[string]benchfig.Figure{}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	failed := false
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(os.Stderr, line)
		if len(line) >= 4 && (line[:4] == "FAIL" || line[:4] == "--- ") {
			failed = failed || line[:4] == "FAIL"
		}
		for _, f := range benchfig.Parse(line) {
			if _, seen := last[f.Name]; !seen {
				order = append(order, f.Name)
			}
			last[f.Name] = f
		}
	}
	for _, name := range order {
		f := last[name]
		fmt.Printf("bench %s %s %s\n", f.Name, f.Value, f.Unit)
	}
	if failed {
		os.Exit(1)
	}
}
