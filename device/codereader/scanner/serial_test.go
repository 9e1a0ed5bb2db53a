package scanner

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device/codereader"
)

func yamlOpts(t testing.TB, s string) *yaml.Node {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

// scannerEmulator is the far end of a serial scanner: a pseudo-terminal
// whose master side writes what a scanner sends.
func scannerEmulator(t *testing.T) (master *os.File, port string) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s.Name()
}

func TestSerialLines(t *testing.T) {
	m, port := scannerEmulator(t)
	cr, err := codereader.Drivers.Open(context.Background(), "serial", yamlOpts(t, "port: "+port+"\nbaud: 115200\naim: true\nsource: counter-2"))
	if err != nil {
		t.Fatal(err)
	}
	defer cr.Close()
	// CR, LF and CR LF endings, an empty line, a split write, AIM prefixes.
	for _, s := range []string{"]Q1https://pay.example/x\r\n", "\r\n", "]C0PAY-1", "23\r", "]E49638", "5074\n", "plain\n"} {
		if _, err := m.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	want := []codereader.Code{
		{Format: "QR_CODE", Text: "https://pay.example/x"},
		{Format: "CODE_128", Text: "PAY-123"},
		{Format: "EAN_8", Text: "96385074"},
		{Format: "UNKNOWN", Text: "plain"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, w := range want {
		c, err := cr.ReadCode(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if c.Format != w.Format || c.Text != w.Text || c.Source != "counter-2" {
			t.Fatalf("got %+v, want %+v", c, w)
		}
	}
	short, cancel2 := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel2()
	if _, err := cr.ReadCode(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle line: %v, want the deadline", err)
	}
}

func TestSerialHostile(t *testing.T) {
	m, port := scannerEmulator(t)
	s, err := OpenSerial(SerialOptions{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	go func() {
		m.Write([]byte(strings.Repeat("9", MaxCode+500)))
		m.Write([]byte("\r\nOK\r\n"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.ReadCode(ctx); !errors.Is(err, ErrTooLong) {
		t.Fatalf("over-long line: %v, want ErrTooLong", err)
	}
	c, err := s.ReadCode(ctx)
	if err != nil || c.Text != "OK" {
		t.Fatalf("after the long line: %+v, %v", c, err)
	}
}

func TestOpenSerialErrors(t *testing.T) {
	if _, err := OpenSerial(SerialOptions{}); err == nil {
		t.Fatal("no port: opened")
	}
	if _, err := OpenSerial(SerialOptions{Port: "/dev/ttyNONE"}); err == nil || !strings.Contains(err.Error(), "ttyNONE") {
		t.Fatalf("missing port: %v", err)
	}
}

func TestLines(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"a\r\nb\nc\rd"}, "a|b|c"},
		{[]string{"a", "b", "\r", "\n", "c\n"}, "ab|c"},
		{[]string{"\x00a\x00\n"}, "a"},
		{[]string{"\r\n\r\n\n"}, ""},
	}
	for _, c := range cases {
		var l Lines
		var got []string
		for _, in := range c.in {
			codes, err := l.Feed([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, codes...)
		}
		if strings.Join(got, "|") != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzLines(f *testing.F) {
	f.Add([]byte("]Q1abc\r\n"))
	f.Add([]byte(strings.Repeat("x", MaxCode+1) + "\n"))
	f.Add([]byte{0, '\r', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l Lines
		codes, _ := l.Feed(b)
		for _, c := range codes {
			if c == "" || len(c) > MaxCode || strings.ContainsAny(c, "\r\n\x00") {
				t.Fatalf("bad code %q", c)
			}
			_ = newCode(c, "s", true, time.Time{})
		}
	})
}
