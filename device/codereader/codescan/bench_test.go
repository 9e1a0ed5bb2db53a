package codescan

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"
	"gocv.io/x/gocv"
)

// median returns the median of ds in milliseconds.
func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[len(s)/2].Microseconds()) / 1000
}

// oneCore keeps Go and OpenCV on one core for timing, and restores them.
func oneCore(b *testing.B) {
	prev := runtime.GOMAXPROCS(1)
	SetNumThreads(1)
	b.Cleanup(func() {
		runtime.GOMAXPROCS(prev)
		SetNumThreads(-1)
	})
}

// BenchmarkDecode720p times the camera-mode Decoder on a 1280x720 frame
// with a phone-sized QR code and on one without any code (medians, one
// core), next to zxing-cpp's own ReadBarcodes with its default effort
// (try harder, rotate, downscale; QR only, as its linear path can abort,
// see shim.h) and to WeChatQRCode, on the same frames.
func BenchmarkDecode720p(b *testing.B) {
	oneCore(b)
	const text = "134567890123456789"
	code, empty := cameraFrame(b, text, 1), cameraFrame(b, "", 1)
	defer code.Close()
	defer empty.Close()
	d, err := NewDecoder(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	w, err := newWechat()
	if err != nil {
		b.Fatal(err)
	}
	defer w.close()
	time1 := func(runs int, f func() ([]raw, error), want string) float64 {
		var ds []time.Duration
		for i := range runs + 2 {
			start := time.Now()
			rs, err := f()
			el := time.Since(start)
			if err != nil {
				b.Fatal(err)
			}
			if ok := slices.ContainsFunc(rs, func(r raw) bool { return r.text == want }); (want != "") != ok || (want == "" && len(rs) > 0) {
				b.Fatalf("read %v, want %q", rs, want)
			}
			if i >= 2 { // the first runs warm caches and allocators
				ds = append(ds, el)
			}
		}
		return median(ds)
	}
	decoder := func(img gocv.Mat) func() ([]raw, error) {
		return func() ([]raw, error) {
			syms, err := d.Decode(img)
			var rs []raw
			for _, s := range syms {
				rs = append(rs, raw{text: s.Text})
			}
			return rs, err
		}
	}
	zxingDefault := func(img gocv.Mat) func() ([]raw, error) {
		return func() ([]raw, error) {
			return zxingRead(&img, zxingHints{formats: fmtQRCode, tryHarder: true, tryRotate: true, tryDownscale: true, minLines: 2})
		}
	}
	wechatOn := func(img gocv.Mat) func() ([]raw, error) { return func() ([]raw, error) { return w.decode(&img) } }

	// zxing-cpp alone misses this noisy frame (the Decoder's median pass
	// reads it), so its anchor is checked for "no error" only.
	zxCode := time1(30, func() ([]raw, error) { _, err := zxingDefault(code)(); return nil, err }, "")
	benchfig.Report(b, "decode_ms_720p_code", time1(30, decoder(code), text), "ms")
	benchfig.Report(b, "zxingcpp_ms_720p_code", zxCode, "ms")
	benchfig.Report(b, "wechat_ms_720p_code", time1(5, wechatOn(code), text), "ms")
	benchfig.Report(b, "decode_ms_720p_empty", time1(30, decoder(empty), ""), "ms")
	benchfig.Report(b, "zxingcpp_ms_720p_empty", time1(30, zxingDefault(empty), ""), "ms")
	benchfig.Report(b, "wechat_ms_720p_empty", time1(3, wechatOn(empty), ""), "ms")
}

// BenchmarkDataset scores the Decoder on every test set next to zbarimg,
// ZXingReader and gozxing run in the same benchmark, by the test data's
// rule (see matches). ms per image for the command-line tools is the wall
// time of one run per set divided by its images: it includes starting the
// process and reading the files.
func BenchmarkDataset(b *testing.B) {
	samples := dataset(b)
	report := func(prefix string, g map[string]*score) {
		if g["qr"].images > 0 { // gozxing is measured on linear codes only
			benchfig.Report(b, prefix+"_qr_correct", float64(g["qr"].correct), "of137")
		}
		benchfig.Report(b, prefix+"_1d_correct", float64(g["1d"].correct), "of96")
		benchfig.Report(b, prefix+"_false_codes", float64(g["false"].falseCodes), "of46")
		all := g["qr"].elapsed + g["1d"].elapsed + g["false"].elapsed
		n := g["qr"].images + g["1d"].images + g["false"].images
		benchfig.Report(b, prefix+"_ms_per_image", float64(all.Microseconds())/1000/float64(n), "ms")
	}
	for _, mode := range []struct {
		prefix string
		opts   Options
	}{{"decode", Options{}}, {"decode_thorough", Options{Thorough: true}}} {
		d, err := NewDecoder(mode.opts)
		if err != nil {
			b.Fatal(err)
		}
		report(mode.prefix, byGroup(runDecoder(b, d, samples)))
		d.Close()
	}
	report("zbarimg", byGroup(runTool(b, samples, zbarimg)))
	report("zxingreader", byGroup(runTool(b, samples, zxingReader)))
	report("gozxing", byGroup(runGozxing(b, samples)))
}

// tool runs a command-line decoder on files and returns what it found in
// each.
type tool func(files []string) (map[string][]found, error)

func runTool(b *testing.B, samples []sample, t tool) map[string]*score {
	b.Helper()
	sets := map[string][]sample{}
	for _, s := range samples {
		sets[s.set] = append(sets[s.set], s)
	}
	out := map[string]*score{}
	for set, ss := range sets {
		var files []string
		for _, s := range ss {
			files = append(files, s.path)
		}
		start := time.Now()
		res, err := t(files)
		el := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		sc := &score{elapsed: el}
		for _, s := range ss {
			sc.add(s, res[s.path])
		}
		out[set] = sc
	}
	return out
}

// zbarimg runs zbar-tools' zbarimg with its defaults and reads its XML.
func zbarimg(files []string) (map[string][]found, error) {
	if _, err := exec.LookPath("zbarimg"); err != nil {
		return nil, errors.New("zbarimg not found: apt-get install zbar-tools")
	}
	var stdout bytes.Buffer
	cmd := exec.Command("zbarimg", append([]string{"--xml", "-q"}, files...)...)
	cmd.Stdout = &stdout
	err := cmd.Run()
	// Exit status 4 means no symbol found in any file.
	if ee := (*exec.ExitError)(nil); err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 4) {
		return nil, fmt.Errorf("zbarimg: %w", err)
	}
	var doc struct {
		Sources []struct {
			Href    string `xml:"href,attr"`
			Symbols []struct {
				Type string `xml:"type,attr"`
				Data struct {
					Format string `xml:"format,attr"`
					Text   string `xml:",chardata"`
				} `xml:"data"`
			} `xml:"index>symbol"`
		} `xml:"source"`
	}
	if err := xml.Unmarshal(stdout.Bytes(), &doc); err != nil {
		return nil, fmt.Errorf("zbarimg output: %w", err)
	}
	out := map[string][]found{}
	for _, src := range doc.Sources {
		for _, sym := range src.Symbols {
			text := sym.Data.Text
			if sym.Data.Format == "base64" {
				raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
				if err != nil {
					return nil, fmt.Errorf("zbarimg output: %w", err)
				}
				text = string(raw)
			}
			out[src.Href] = append(out[src.Href], found{sym.Type, text})
		}
	}
	return out, nil
}

// zxingReader runs zxing-cpp-tools' ZXingReader with its defaults and
// reads its text output, one "File:" block per image. If it aborts (see
// shim.h), the files it did not reach are retried one by one.
func zxingReader(files []string) (map[string][]found, error) {
	if _, err := exec.LookPath("ZXingReader"); err != nil {
		return nil, errors.New("ZXingReader not found: apt-get install zxing-cpp-tools")
	}
	out := map[string][]found{}
	for len(files) > 0 {
		var stdout bytes.Buffer
		cmd := exec.Command("ZXingReader", files...)
		cmd.Stdout = &stdout
		runErr := cmd.Run()
		done := parseZXingReader(stdout.String(), out)
		if runErr == nil {
			break
		}
		if len(files) == 1 {
			break // it crashed on this file: nothing read
		}
		// Skip what was reported, and the file it died on if output stopped
		// there, then go on.
		files = files[max(done, 1):]
	}
	return out, nil
}

// parseZXingReader adds the codes in ZXingReader's output to out and
// returns how many files it reported on completely.
func parseZXingReader(s string, out map[string][]found) int {
	blocks := strings.Split(s, "File:       ")
	done := 0
	for _, blk := range blocks[1:] {
		name, rest, _ := strings.Cut(blk, "\n")
		complete := strings.HasSuffix(blk, "\n\n") || strings.Contains(rest, "No barcode found")
		for {
			i := strings.Index(rest, "Text:       \"")
			if i < 0 {
				break
			}
			rest = rest[i+len("Text:       \""):]
			j := strings.Index(rest, "\"\nBytes:")
			if j < 0 {
				break
			}
			text := rest[:j]
			format := ""
			if k := strings.Index(rest, "Format:     "); k >= 0 {
				format, _, _ = strings.Cut(rest[k+len("Format:     "):], "\n")
			}
			out[name] = append(out[name], found{format, text})
			rest = rest[j:]
		}
		if complete {
			done++
		}
	}
	return done
}

// runGozxing scores gozxing's linear readers (Code 128, EAN-13, EAN-8,
// UPC-A in try-harder mode): the pure-Go alternative to zxing-cpp.
func runGozxing(b *testing.B, samples []sample) map[string]*score {
	b.Helper()
	hints := map[gozxing.DecodeHintType]interface{}{
		gozxing.DecodeHintType_TRY_HARDER: true,
		gozxing.DecodeHintType_POSSIBLE_FORMATS: []gozxing.BarcodeFormat{
			gozxing.BarcodeFormat_EAN_13, gozxing.BarcodeFormat_EAN_8, gozxing.BarcodeFormat_UPC_A,
		},
	}
	readers := []gozxing.Reader{oned.NewCode128Reader(), oned.NewMultiFormatUPCEANReader(hints)}
	out := map[string]*score{}
	for _, sm := range samples {
		if group(sm.set) == "qr" {
			continue
		}
		img := gocv.IMRead(sm.path, gocv.IMReadColor)
		goimg, err := img.ToImage()
		img.Close()
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		var codes []found
		if bmp, err := gozxing.NewBinaryBitmapFromImage(goimg); err == nil {
			for _, r := range readers {
				res, err := r.Decode(bmp, hints)
				if err == nil {
					f := found{res.GetBarcodeFormat().String(), res.GetText()}
					if res.GetBarcodeFormat() == gozxing.BarcodeFormat_UPC_A {
						f.format = UPCA
					}
					codes = append(codes, f)
				}
			}
		}
		el := time.Since(start)
		sc := out[sm.set]
		if sc == nil {
			sc = &score{}
			out[sm.set] = sc
		}
		sc.add(sm, codes)
		sc.elapsed += el
	}
	return out
}
