package fault

import (
	"bytes"
	"reflect"
	"regexp"
	"testing"
)

func TestTally(t *testing.T) {
	for _, tc := range []struct {
		name              string
		reported, applied []string
		want              Summary
	}{
		{"all applied", []string{"a", "b"}, []string{"b", "a"}, Summary{ReportedStored: 2, Applied: 2}},
		{"extra applied is not lost", []string{"a"}, []string{"a", "c"}, Summary{ReportedStored: 1, Applied: 2}},
		{"lost", []string{"a", "b", "c"}, []string{"a"}, Summary{ReportedStored: 3, Applied: 1, Lost: 2, LostKeys: []string{"b", "c"}}},
		{"applied twice", []string{"a"}, []string{"a", "a", "a"}, Summary{ReportedStored: 1, Applied: 1, Duplicates: 2, DuplicateKeys: []string{"a"}}},
		{"reported twice counts once", []string{"a", "a"}, []string{"a"}, Summary{ReportedStored: 1, Applied: 1}},
		{"nothing", nil, nil, Summary{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Tally("x", 3, tc.reported, tc.applied)
			tc.want.Scenario, tc.want.Runs = "x", 3
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			if got.OK() != (tc.want.Lost == 0 && tc.want.Duplicates == 0) {
				t.Fatal("OK disagrees with the counts")
			}
		})
	}
}

func TestSummaryLine(t *testing.T) {
	var b bytes.Buffer
	s := Tally("power_loss", 20, []string{"a", "b"}, []string{"a", "b", "b"})
	if err := s.Print(&b); err != nil {
		t.Fatal(err)
	}
	want := "fault power_loss runs=20 reported_stored=2 applied=2 duplicates=1 lost=0\n"
	if b.String() != want {
		t.Fatalf("line %q, want %q", b.String(), want)
	}
	// The form scripts parse.
	re := regexp.MustCompile(`^fault [a-z_]+ runs=\d+ reported_stored=\d+ applied=\d+ duplicates=\d+ lost=\d+\n$`)
	if !re.MatchString(b.String()) {
		t.Fatalf("line %q does not match the scripts' form", b.String())
	}
}
