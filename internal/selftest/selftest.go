// Package selftest exercises every device and service of the appliance, not
// just opens it: the camera gives frames and decodes the test card, the
// card reader answers, the display draws, the lines pulse, the printer
// prints a slip, the broker takes the device's certificate, the platform
// answers a ping through the outbox, the clock is synchronised, the disk has
// room, the store is whole and the TPM answers.
//
// A check is a name and a function giving a Result; Run runs a list of them
// with a timeout each and gathers a Report, printed as a table for a
// technician or as JSON for scripts and the technician's screen. Every
// failure carries a hint the technician can act on.
package selftest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Status is the outcome of one check.
type Status string

// The outcomes of a check.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Skip: the device or service is not configured on this appliance.
	Skip Status = "skip"
)

// Result is what one check found.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Detail says what was measured or what went wrong.
	Detail string `json:"detail,omitempty"`
	// Hint says what a technician can do about a failure.
	Hint string `json:"hint,omitempty"`
	// Millis is how long the check took.
	Millis int64 `json:"ms"`
}

// Passed returns a passing result saying what was found.
func Passed(format string, args ...any) Result {
	return Result{Status: Pass, Detail: fmt.Sprintf(format, args...)}
}

// Failed returns a failing result with err as its detail and hint as what
// to do.
func Failed(err error, hint string) Result {
	return Result{Status: Fail, Detail: err.Error(), Hint: hint}
}

// Skipped returns the result of a check whose device is not configured.
func Skipped(why string) Result { return Result{Status: Skip, Detail: why} }

// Check is one test of a device or service.
type Check struct {
	Name string
	// Lane names the device the check drives: checks in the same lane run
	// one after the other (the drawer kicked through the printer waits for
	// the test slip); the lanes run side by side. Empty: a lane of its own.
	Lane string
	// Timeout bounds the check; 0 means DefaultTimeout.
	Timeout time.Duration
	// Run runs the check; it must return once ctx ends.
	Run func(ctx context.Context) Result
}

// DefaultTimeout bounds a check that sets no Timeout of its own.
const DefaultTimeout = 5 * time.Second

// Report is the outcome of a self-test.
type Report struct {
	Results []Result `json:"results"`
	// Failed counts the failed checks.
	Failed int `json:"failed"`
	// Millis is how long the whole self-test took.
	Millis int64 `json:"ms"`
}

// OK reports whether no check failed.
func (r *Report) OK() bool { return r.Failed == 0 }

// Run runs checks, the lanes side by side, each check bounded by its
// timeout, and returns their results in the order of checks. A check that
// overruns its timeout fails, whether or not its function has returned.
func Run(ctx context.Context, checks []Check) Report {
	start := time.Now()
	res := make([]Result, len(checks))
	lanes := map[string][]int{}
	var order []string
	for i, c := range checks {
		lane := c.Lane
		if lane == "" {
			lane = fmt.Sprintf("#%d", i)
		}
		if _, ok := lanes[lane]; !ok {
			order = append(order, lane)
		}
		lanes[lane] = append(lanes[lane], i)
	}
	var wg sync.WaitGroup
	for _, lane := range order {
		wg.Add(1)
		go func(idx []int) {
			defer wg.Done()
			for _, i := range idx {
				res[i] = runOne(ctx, checks[i])
			}
		}(lanes[lane])
	}
	wg.Wait()
	rep := Report{Results: res, Millis: time.Since(start).Milliseconds()}
	for _, r := range res {
		if r.Status == Fail {
			rep.Failed++
		}
	}
	return rep
}

// runOne runs c with its timeout; a panic in a check fails it rather than
// the self-test.
func runOne(ctx context.Context, c Check) (r Result) {
	d := c.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			r = Failed(fmt.Errorf("check crashed: %v", p), "report this to the maintainers with the output of guichet selftest --json")
		}
		r.Name = c.Name
		r.Millis = time.Since(start).Milliseconds()
	}()
	r = c.Run(ctx)
	if r.Status == "" {
		r.Status = Fail
	}
	if r.Status != Fail && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r = Failed(fmt.Errorf("no answer within %v", d), "the device or service hangs: check its cable or that it runs")
	}
	return r
}

// WriteTable writes the report as a table: one line per check, with the
// hint of each failure under it, and a summary line.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", x.Name, strings.ToUpper(string(x.Status)), oneLine(x.Detail))
		if x.Status == Fail && x.Hint != "" {
			fmt.Fprintf(tw, "\t\thint: %s\n", oneLine(x.Hint))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "all checks passed"
	if r.Failed > 0 {
		verdict = fmt.Sprintf("%d of %d checks failed", r.Failed, len(r.Results))
	}
	_, err := fmt.Fprintf(w, "%s in %.1fs\n", verdict, float64(r.Millis)/1000)
	return err
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// oneLine keeps a detail on its line of the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
