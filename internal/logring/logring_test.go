package logring

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/benchfig"
)

func TestPersonalDataIsRedacted(t *testing.T) {
	var out bytes.Buffer
	r := New(10)
	log := slog.New(r.Handler(slog.NewTextHandler(&out, nil)))
	log.With("device", "till-1").WithGroup("sale").Info("payment refused",
		"name", "Marie Curie", "pin", "1234", "code", "ENROL-ABCD-1234", "card", "4111111111111111",
		"pan", "4111111111111111", "seq", 42, "err", errors.New("declined"), slog.Group("owner", "name", "Zhang Wei", "dur", time.Second))
	recs := r.Records(slog.LevelDebug)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	got := recs[0]
	want := map[string]string{
		"device": "till-1", "sale.seq": "42", "sale.err": "declined", "sale.owner.dur": "1s",
		"sale.name": Redacted, "sale.pin": Redacted, "sale.code": Redacted, "sale.card": Redacted,
		"sale.pan": Redacted, "sale.owner.name": Redacted,
	}
	if len(got.Attrs) != len(want) {
		t.Errorf("attrs %v, want %v", got.Attrs, want)
	}
	for k, v := range want {
		if got.Attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, got.Attrs[k], v)
		}
	}
	for _, secret := range []string{"Marie", "1234", "ENROL", "4111", "Zhang"} {
		for _, v := range got.Attrs {
			if strings.Contains(v, secret) {
				t.Errorf("%q kept in %v", secret, got.Attrs)
			}
		}
	}
	// The real handler still gets the whole record.
	if !strings.Contains(out.String(), "Marie Curie") {
		t.Errorf("next handler got %q", out.String())
	}
	if got.Msg != "payment refused" || got.Level != "INFO" {
		t.Errorf("record %+v", got)
	}
}

func TestRingKeepsTheLastAndFiltersByLevel(t *testing.T) {
	r := New(3)
	log := slog.New(r.Handler(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log.Debug("m1")
	log.Warn("m2")
	log.Info("m3")
	log.Error("m4")
	var msgs []string
	for _, rec := range r.Records(slog.LevelDebug) {
		msgs = append(msgs, rec.Msg)
	}
	if strings.Join(msgs, ",") != "m2,m3,m4" {
		t.Errorf("kept %v", msgs)
	}
	msgs = msgs[:0]
	for _, rec := range r.Records(slog.LevelWarn) {
		msgs = append(msgs, rec.Msg)
	}
	if strings.Join(msgs, ",") != "m2,m4" {
		t.Errorf("warn and above %v", msgs)
	}
}

func TestLevelOfTheNextHandlerDecides(t *testing.T) {
	r := New(5)
	log := slog.New(r.Handler(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	log.Info("hidden")
	log.Warn("shown", "err", strings.Repeat("é", 400))
	recs := r.Records(slog.LevelDebug)
	if len(recs) != 1 || recs[0].Msg != "shown" {
		t.Fatalf("records %+v", recs)
	}
	if v := recs[0].Attrs["err"]; len(v) > maxValue+len("…") || !strings.HasSuffix(v, "…") || !strings.HasPrefix(v, "éé") {
		t.Errorf("long value kept as %d bytes", len(v))
	}
}

// BenchmarkHandle reports what keeping a redacted copy of a record adds
// to logging it: the time per record through the ring in front of a text
// handler, next to the bare text handler (the anchor).
func BenchmarkHandle(b *testing.B) {
	const n = 100000
	perRecord := func(log *slog.Logger) float64 {
		t0 := time.Now()
		for i := range n {
			log.Info("sent", "seq", i, "device", "till-1", "name", "x", "err", "timeout")
		}
		return float64(time.Since(t0).Nanoseconds()) / n
	}
	bare := slog.New(slog.NewTextHandler(io.Discard, nil))
	ring := slog.New(New(500).Handler(slog.NewTextHandler(io.Discard, nil)))
	perRecord(ring) // warm up
	benchfig.Report(b, "log_record_ns", perRecord(bare), "ns")
	benchfig.Report(b, "logring_record_ns", perRecord(ring), "ns")
}

func TestOf(t *testing.T) {
	r := New(2)
	h := r.Handler(slog.NewTextHandler(io.Discard, nil))
	if Of(h) != r || Of(h.WithAttrs([]slog.Attr{slog.Int("seq", 1)})) != r || Of(h.WithGroup("g")) != r {
		t.Error("the ring not found behind its handler")
	}
	if Of(slog.NewTextHandler(io.Discard, nil)) != nil {
		t.Error("a ring found behind a text handler")
	}
}
