//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/guichet/guichet/firmware-bridge/sam"
)

// start runs the command with args and returns the path it printed and a
// function that stops it and returns its error.
func start(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		err := run(ctx, args, pw, &stderr)
		pw.CloseWithError(io.EOF)
		errc <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("no path printed: %v (run: %v)", err, <-errc)
	}
	go io.Copy(io.Discard, pr)
	stop := func() error {
		cancel()
		select {
		case err := <-errc:
			return err
		case <-time.After(5 * time.Second):
			return errors.New("still running 5 s after cancel")
		}
	}
	return strings.TrimSpace(line), stop
}

func client(t *testing.T, path string) *sam.Client {
	t.Helper()
	port, err := serial.Open(path, &serial.Mode{BaudRate: 115200})
	if err != nil {
		t.Fatal(err)
	}
	c := sam.New(port, sam.Options{Timeout: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestServesSpecimenOnLink(t *testing.T) {
	link := filepath.Join(t.TempDir(), "sam0")
	path, stop := start(t, "-link", link, "-baud", "0")
	if !strings.HasPrefix(path, "/dev/pts/") {
		t.Fatalf("printed %q", path)
	}
	if got, err := os.Readlink(link); err != nil || got != path {
		t.Fatalf("link: %q, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client(t, link).ReadCard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.IDNumber != "11010519491231002X" {
		t.Fatalf("card %+v", c)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatalf("link left behind: %v", err)
	}
}

func TestCardFileAndFault(t *testing.T) {
	card := filepath.Join(t.TempDir(), "card.yaml")
	os.WriteFile(card, []byte(`name: 李雷
sex: "1"
nation: "03"
birth: "18800101"
address: 广东省示例市
id_number: "440524188001010014"
issuer: 示例公安局
valid_from: "20200101"
valid_to: 长期
`), 0o600)
	path, stop := start(t, "-card", card, "-fault", "corrupt", "-fault-cmd", "3001", "-fault-times", "1")
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client(t, path).ReadCard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "李雷" || c.Nation != "回" || c.ExpiryDate != sam.LongTerm || c.BirthDate != "1880-01-01" {
		t.Fatalf("card %+v", c)
	}
}

func TestNoCard(t *testing.T) {
	path, stop := start(t, "-no-card")
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client(t, path).FindCard(ctx); !errors.Is(err, sam.StatusNoCard) {
		t.Fatalf("err = %v", err)
	}
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: x\ncolour: blue\n"), 0o600)
	long := filepath.Join(dir, "long.yaml")
	os.WriteFile(long, []byte("name: "+strings.Repeat("名", 16)+"\n"), 0o600)
	for _, args := range [][]string{
		{"-fault", "flaky"},
		{"-fault-cmd", "xyz"},
		{"-card", filepath.Join(dir, "missing.yaml")},
		{"-card", bad},
		{"-card", long},
		{"extra"},
		{"-baud", "fast"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%q: no error", args)
		}
		if out.Len() != 0 {
			t.Errorf("%q: printed %q", args, out.String())
		}
	}
}
