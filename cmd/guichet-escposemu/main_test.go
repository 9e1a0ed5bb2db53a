//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/device/printer"
	"github.com/guichet/guichet/device/printer/escpos"
)

func TestPrintsToLinkAndRenders(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "printer0")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rctx, stop := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		err := run(rctx, []string{"-link", link, "-out", dir}, pw, io.Discard)
		pw.Close()
		errc <- err
	}()
	out := bufio.NewReader(pr)
	path, err := out.ReadString('\n')
	if err != nil || !strings.HasPrefix(path, "/dev/pts/") {
		t.Fatalf("printed %q, %v", path, err)
	}
	p, err := escpos.Open(ctx, escpos.Options{Port: link})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Print(ctx, printer.Document{Lines: []printer.Line{{Text: "小店", Big: true}, {QR: "pay-7"}}}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 4 { // "slip 1:", the text, the code, the feed after it
		l, err := out.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.TrimSpace(l))
	}
	if strings.Join(got, "|") != "slip 1:|小店|[QR pay-7]|" {
		t.Fatalf("printed %q", got)
	}
	if err := p.OpenDrawer(ctx); err != nil {
		t.Fatal(err)
	}
	if l, err := out.ReadString('\n'); err != nil || l != "drawer: pin 2, 50ms on, 500ms off\n" {
		t.Fatalf("printed %q, %v", l, err)
	}
	f, err := os.Open(filepath.Join(dir, "slip-1.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatal(err)
	}
	stop()
	go io.Copy(io.Discard, out)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatalf("link left behind: %v", err)
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"-paper", "60"},
		{"-link", "/tmp/x", "-tcp", "127.0.0.1:0"},
		{"extra"},
		{"-tcp", "not an address"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
