package fault

import (
	"fmt"
	"io"
	"sort"
)

// Summary is the outcome of one fault scenario, counted by idempotency
// key: what the appliance said it stored against what the platform applied.
type Summary struct {
	Scenario string
	// Runs is how many times the fault was injected.
	Runs int
	// ReportedStored counts the distinct records the appliance reported as
	// stored (a payment answered approved, declined or queued).
	ReportedStored int
	// Applied counts the distinct records the platform applied.
	Applied int
	// Duplicates counts records applied more than once (must be 0). It is
	// not the platform's "duplicates" counter, which counts re-deliveries
	// it rightly refused.
	Duplicates int
	// Lost counts records reported stored and never applied (must be 0).
	Lost int
	// LostKeys and DuplicateKeys name them, for the failure message.
	LostKeys, DuplicateKeys []string
}

// Tally compares the keys the appliance reported stored with the keys the
// platform applied, one entry per applied record (a key applied twice
// appears twice).
func Tally(scenario string, runs int, reported, applied []string) Summary {
	s := Summary{Scenario: scenario, Runs: runs}
	rep := map[string]bool{}
	for _, k := range reported {
		rep[k] = true
	}
	app := map[string]int{}
	for _, k := range applied {
		app[k]++
	}
	s.ReportedStored, s.Applied = len(rep), len(app)
	for k, n := range app {
		if n > 1 {
			s.Duplicates += n - 1
			s.DuplicateKeys = append(s.DuplicateKeys, k)
		}
	}
	for k := range rep {
		if app[k] == 0 {
			s.Lost++
			s.LostKeys = append(s.LostKeys, k)
		}
	}
	sort.Strings(s.LostKeys)
	sort.Strings(s.DuplicateKeys)
	return s
}

// OK reports whether nothing was lost and nothing applied twice.
func (s Summary) OK() bool { return s.Lost == 0 && s.Duplicates == 0 }

// String is the summary line scripts read:
//
//	fault SCENARIO runs=N reported_stored=S applied=A duplicates=D lost=L
func (s Summary) String() string {
	return fmt.Sprintf("fault %s runs=%d reported_stored=%d applied=%d duplicates=%d lost=%d",
		s.Scenario, s.Runs, s.ReportedStored, s.Applied, s.Duplicates, s.Lost)
}

// Print writes the summary line to w, alone on its line.
func (s Summary) Print(w io.Writer) error {
	_, err := fmt.Fprintln(w, s.String())
	return err
}
