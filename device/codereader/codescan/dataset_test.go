package codescan

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/internal/shared"
)

// testdataDir holds the shared barcode images (see its README.md).
var testdataDir = shared.Testdata("barcodes")

// sample is one test image and the text it holds ("" for a negative).
type sample struct {
	set, path, want string
}

// dataset lists every image of every set, in name order.
func dataset(tb testing.TB) []sample {
	tb.Helper()
	dirs, err := filepath.Glob(filepath.Join(testdataDir, "*-[0-9]"))
	if err != nil || len(dirs) == 0 {
		tb.Fatalf("no test sets under %s (%v)", testdataDir, err)
	}
	var out []sample
	for _, dir := range dirs {
		set := filepath.Base(dir)
		files, err := os.ReadDir(dir)
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range files {
			ext := filepath.Ext(f.Name())
			if ext != ".png" && ext != ".jpg" {
				continue
			}
			s := sample{set: set, path: filepath.Join(dir, f.Name())}
			if !isNegative(set) {
				b, err := os.ReadFile(strings.TrimSuffix(s.path, ext) + ".txt")
				if err != nil {
					tb.Fatalf("%s has no expected text: %v", s.path, err)
				}
				s.want = string(b)
			}
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func isNegative(set string) bool { return strings.HasPrefix(set, "falsepositives-") }

// group is the figure group of a set: "qr", "1d" or "false".
func group(set string) string {
	switch {
	case isNegative(set):
		return "false"
	case strings.HasPrefix(set, "qrcode-"):
		return "qr"
	}
	return "1d"
}

// found is one code a decoder reported, with the format in its own
// spelling.
type found struct{ format, text string }

// matches applies the test data's scoring rule: the decoded text equals
// the expected text or contains it, CRLF taken as LF. UPC-A is expected in
// its EAN-13 form (GTIN-13, a leading 0), so a decoder that reports UPC-A
// as 12 digits is compared in that form; zbarimg reports it so already.
func matches(f found, want string) bool {
	got := strings.ReplaceAll(f.text, "\r\n", "\n")
	want = strings.ReplaceAll(want, "\r\n", "\n")
	if f.format == UPCA || f.format == "UPC-A" {
		got = "0" + got
	}
	return got == want || strings.Contains(got, want)
}

// score is how a decoder did on some samples.
type score struct {
	images, correct int
	// falseCodes counts codes reported on negative images.
	falseCodes int
	// misreads counts codes reported on positive images that match no
	// expected text: not scored by the README's rule, but shown.
	misreads int
	// wrong lists the misread and false codes, for the failure message.
	wrong   []string
	elapsed time.Duration
}

func (s *score) add(sm sample, codes []found) {
	s.images++
	if sm.want == "" {
		s.falseCodes += len(codes)
		for _, f := range codes {
			s.wrong = append(s.wrong, fmt.Sprintf("%s: false %s %.60q", sm.path, f.format, f.text))
		}
		return
	}
	if slices.ContainsFunc(codes, func(f found) bool { return matches(f, sm.want) }) {
		s.correct++
	}
	for _, f := range codes {
		if !matches(f, sm.want) {
			s.misreads++
			s.wrong = append(s.wrong, fmt.Sprintf("%s: misread %s %.60q, want %.60q", sm.path, f.format, f.text, sm.want))
		}
	}
}

// runDecoder scores d on samples, per set.
func runDecoder(tb testing.TB, d *Decoder, samples []sample) map[string]*score {
	tb.Helper()
	out := map[string]*score{}
	for _, sm := range samples {
		img := gocv.IMRead(sm.path, gocv.IMReadColor)
		if img.Empty() {
			tb.Fatalf("cannot read %s", sm.path)
		}
		start := time.Now()
		syms, err := d.Decode(img)
		el := time.Since(start)
		img.Close()
		if err != nil {
			tb.Fatalf("%s: %v", sm.path, err)
		}
		var codes []found
		for _, s := range syms {
			codes = append(codes, found{s.Format, s.Text})
		}
		sc := out[sm.set]
		if sc == nil {
			sc = &score{}
			out[sm.set] = sc
		}
		sc.add(sm, codes)
		sc.elapsed += el
		if testing.Verbose() && os.Getenv("CODESCAN_LIST") != "" {
			tb.Logf("%s: %v want %.40q", sm.path, codes, sm.want)
		}
	}
	return out
}

// byGroup sums per-set scores into the groups qr, 1d and false.
func byGroup(sets map[string]*score) map[string]*score {
	out := map[string]*score{"qr": {}, "1d": {}, "false": {}}
	for set, s := range sets {
		g := out[group(set)]
		g.images += s.images
		g.correct += s.correct
		g.falseCodes += s.falseCodes
		g.misreads += s.misreads
		g.wrong = append(g.wrong, s.wrong...)
		g.elapsed += s.elapsed
	}
	return out
}
