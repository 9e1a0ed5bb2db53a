package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device/codereader"
)

func TestSimList(t *testing.T) {
	cr, err := codereader.Drivers.Open(context.Background(), "sim", yamlOpts(t, "codes: [\"QR_CODE:https://x\", \"134567890123456789\", \"EAN_13:9780441014989\"]\ninterval: 10ms"))
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Close()
	ctx := context.Background()
	want := []codereader.Code{{Format: "QR_CODE", Text: "https://x"}, {Format: "UNKNOWN", Text: "134567890123456789"}, {Format: "EAN_13", Text: "9780441014989"}}
	for _, w := range want {
		c, err := cr.ReadCode(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Format != w.Format || c.Text != w.Text || c.Source != "sim" || c.At.IsZero() {
			t.Fatalf("got %+v, want %+v", c, w)
		}
	}
	if _, err := cr.ReadCode(ctx); !errors.Is(err, ErrEnd) {
		t.Fatalf("after the list: %v, want ErrEnd", err)
	}
}

func TestSimLoopAndCancel(t *testing.T) {
	s := New(Options{Codes: []string{"A", "B"}, Loop: true, Interval: time.Millisecond})
	var got string
	for range 5 {
		c, err := s.ReadCode(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got += c.Text
	}
	if got != "ABABA" {
		t.Fatalf("got %q", got)
	}
	slow := New(Options{Codes: []string{"A"}, Interval: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := slow.ReadCode(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
}

func TestSimChan(t *testing.T) {
	ch := make(chan codereader.Code, 1)
	s := NewChan(ch, "demo")
	ch <- codereader.Code{Format: "QR_CODE", Text: "hi"}
	c, err := s.ReadCode(context.Background())
	if err != nil || c.Text != "hi" || c.Source != "demo" || c.At.IsZero() {
		t.Fatalf("got %+v, %v", c, err)
	}
	close(ch)
	if _, err := s.ReadCode(context.Background()); !errors.Is(err, ErrEnd) {
		t.Fatalf("closed channel: %v", err)
	}
}

func yamlOpts(t testing.TB, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}
