package qemutest

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readCPIO parses a newc archive back, to check WriteCPIO independently of
// any cpio tool.
func readCPIO(t *testing.T, b []byte) map[string]Entry {
	t.Helper()
	out := map[string]Entry{}
	off := 0
	align := func() { off = (off + 3) &^ 3 }
	for {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("bad header at %d", off)
		}
		field := func(i int) uint64 {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		mode, size, major, minor, namesize := field(1), field(6), field(9), field(10), field(11)
		name := string(b[off+110 : off+110+int(namesize)-1])
		off += 110 + int(namesize)
		align()
		data := b[off : off+int(size)]
		off += int(size)
		align()
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after trailer", len(b)-off)
			}
			return out
		}
		out[name] = Entry{Name: name, Mode: fs.FileMode(mode), Data: data, Major: uint32(major), Minor: uint32(minor)}
	}
}

func TestWriteCPIO(t *testing.T) {
	var buf bytes.Buffer
	err := WriteCPIO(&buf, []Entry{
		{Name: "bin", Mode: fs.ModeDir | 0o755},
		{Name: "/bin/x", Mode: 0o755, Data: []byte("hello")},
		{Name: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
		{Name: "odd", Mode: 0o644, Data: []byte("abc")},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := readCPIO(t, buf.Bytes())
	if e := got["bin"]; e.Mode != 0o040755 {
		t.Errorf("bin mode %o", e.Mode)
	}
	if e := got["bin/x"]; e.Mode != 0o100755 || string(e.Data) != "hello" {
		t.Errorf("bin/x = %o %q", e.Mode, e.Data)
	}
	if e := got["dev/console"]; e.Mode != 0o020600 || e.Major != 5 || e.Minor != 1 {
		t.Errorf("dev/console = %o %d:%d", e.Mode, e.Major, e.Minor)
	}
	if e := got["odd"]; string(e.Data) != "abc" {
		t.Errorf("odd = %q", e.Data)
	}
	if err := WriteCPIO(&buf, []Entry{{Name: "", Mode: 0o644}}); err == nil {
		t.Error("empty name accepted")
	}
	if err := WriteCPIO(&buf, []Entry{{Name: "p", Mode: fs.ModeNamedPipe}}); err == nil {
		t.Error("named pipe accepted")
	}
}

// TestBoot boots Debian's kernel with a command that fails on purpose, and
// checks that the marker, the output and the exit status come back.
func TestBoot(t *testing.T) {
	if err := Need(); err != nil {
		t.Fatal(err)
	}
	kvers := Kernels()
	if len(kvers) == 0 {
		t.Fatal("no kernel in /boot with modules: apt-get install linux-image-amd64")
	}
	extra := filepath.Join(t.TempDir(), "extra")
	if err := os.WriteFile(extra, []byte("guest file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Guest{
		Kernel:  "/boot/vmlinuz-" + kvers[0],
		Files:   []File{{Guest: "/opt/a/extra", Host: extra}},
		Command: "cat /opt/a/extra; test -d /sys/kernel/config || echo no-configfs-dir; uname -r; exit 7",
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Console)
	}
	t.Logf("boot to marker %v, total %v", res.Boot, res.Total)
	if res.ExitStatus != 7 {
		t.Errorf("exit status %d, want 7\n%s", res.ExitStatus, res.Console)
	}
	for _, want := range []string{"guest file", kvers[0]} {
		if !strings.Contains(res.Console, want) {
			t.Errorf("console lacks %q:\n%s", want, res.Console)
		}
	}
}

func TestFindModule(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "zz-test.ko"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := FindModule("no-such-kernel", "zz-test", dir)
	if err != nil || p != filepath.Join(dir, "zz-test.ko") {
		t.Errorf("FindModule = %q, %v", p, err)
	}
	if _, err := FindModule("no-such-kernel", "zz-absent", dir); err == nil {
		t.Error("absent module found")
	}
}

// TestTimeout checks that a guest that hangs is stopped and reported.
func TestTimeout(t *testing.T) {
	kvers := Kernels()
	if len(kvers) == 0 {
		t.Fatal("no kernel in /boot with modules: apt-get install linux-image-amd64")
	}
	res, err := Run(context.Background(), Guest{Kernel: "/boot/vmlinuz-" + kvers[0], Command: "sleep 600", Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("hung guest: %v", err)
	}
	if res.Total > time.Minute {
		t.Errorf("qemu stopped only after %v", res.Total)
	}
}
