package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/firmware-bridge/dfu"
	"github.com/guichet/guichet/firmware-bridge/dfu/dfuemu"
	"github.com/guichet/guichet/firmware-bridge/manifest"
	"github.com/guichet/guichet/internal/keys"
)

func runOK(t *testing.T, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if rc := run(args, &out, &errb); rc != 0 {
		t.Fatalf("guichet %s: exit %d: %s", strings.Join(args, " "), rc, errb.String())
	}
	return out.String(), errb.String()
}

// TestFirmware signs an image with the command line, installs it on the
// emulated peripheral over a pseudo-terminal, and is refused an image signed
// by another key.
func TestFirmware(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "fw.key")
	out, _ := runOK(t, "firmware", "keygen", "--key", key)
	if !strings.Contains(out, "key id ") {
		t.Fatalf("keygen: %s", out)
	}
	pub, err := keys.LoadPublic(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := filepath.Join(dir, "v1.bin"), filepath.Join(dir, "v2.bin")
	os.WriteFile(v1, dfuemu.Image(5000, "v1", false), 0o644)
	os.WriteFile(v2, dfuemu.Image(20000, "v2", false), 0o644)
	runOK(t, "firmware", "sign", "--key", key, "--class", "sam-v2", "--version", "1.0.0", "--counter", "1", "--image", v1)
	out, _ = runOK(t, "firmware", "sign", "--key", key, "--class", "sam-v2", "--version", "2.0.1", "--counter", "2", "--image", v2, "--out", v2+".m")
	if !strings.Contains(out, "sam-v2 2.0.1 counter 2, 20000 bytes") {
		t.Fatalf("sign: %s", out)
	}
	out, _ = runOK(t, "firmware", "show", "--manifest", v2+".m", "--pubkey", key+".pub")
	if !strings.Contains(out, "version  2.0.1") || !strings.Contains(out, "signature valid") {
		t.Fatalf("show: %s", out)
	}

	emu, err := dfuemu.New(dfuemu.Config{Dir: filepath.Join(dir, "flash"), Key: pub, Class: "sam-v2"})
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := os.ReadFile(v1 + ".manifest")
	img, _ := os.ReadFile(v1)
	if err := emu.Provision(mb, img); err != nil {
		t.Fatal(err)
	}
	p, err := emu.ServePTY(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	out, _ = runOK(t, "firmware", "info", "--port", p.Path)
	if !strings.Contains(out, "image    1.0.0 confirmed, slot A") || !strings.Contains(out, "counter  1") {
		t.Fatalf("info: %s", out)
	}
	out, progress := runOK(t, "firmware", "update", "--port", p.Path, "--manifest", v2+".m", "--image", v2)
	if !strings.Contains(out, "version 2.0.1 installed and confirmed, counter 2") {
		t.Fatalf("update: %s", out)
	}
	for _, want := range []string{"transfer [", "100%", "confirm ", "done "} {
		if !strings.Contains(progress, want) {
			t.Fatalf("progress lacks %q:\n%s", want, progress)
		}
	}
	if s := emu.State(); s.Version != (manifest.Version{Major: 2, Patch: 1}) || s.Testing || s.Counter != 2 {
		t.Fatalf("emulator after update: %+v", s)
	}

	// Signed by another key: refused, exit 1, the old firmware stays.
	other := filepath.Join(dir, "other.key")
	runOK(t, "firmware", "keygen", "--key", other)
	v3 := filepath.Join(dir, "v3.bin")
	os.WriteFile(v3, dfuemu.Image(3000, "v3", false), 0o644)
	runOK(t, "firmware", "sign", "--key", other, "--class", "sam-v2", "--version", "3.0.0", "--counter", "3", "--image", v3)
	var o, e bytes.Buffer
	if rc := run([]string{"firmware", "update", "--port", p.Path, "--manifest", v3 + ".manifest", "--image", v3}, &o, &e); rc != 1 ||
		!strings.Contains(e.String(), dfu.StatusSignature.String()) {
		t.Fatalf("update signed by another key: exit %d, %s", rc, e.String())
	}
	if s := emu.State(); s.Version.Major != 2 {
		t.Fatalf("emulator after refusal: %+v", s)
	}
}

func TestFirmwareUsage(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "k")
	runOK(t, "firmware", "keygen", "--key", key)
	img := filepath.Join(dir, "i")
	os.WriteFile(img, []byte{1}, 0o644)
	for _, args := range [][]string{
		{"firmware"},
		{"firmware", "flash"},
		{"firmware", "sign", "--key", key, "--class", "sam-v2", "--version", "1.2", "--counter", "1", "--image", img},
		{"firmware", "sign", "--key", key, "--class", "sam-v2", "--version", "1.2.3", "--counter", "4294967296", "--image", img},
		{"firmware", "sign", "--class", "sam-v2", "--version", "1.2.3", "--image", img},
		{"firmware", "update", "--port", "/dev/null"},
		{"firmware", "info", "extra"},
	} {
		var o, e bytes.Buffer
		if rc := run(args, &o, &e); rc != 2 {
			t.Errorf("guichet %s: exit %d, want 2 (%s)", strings.Join(args, " "), rc, e.String())
		}
	}
	// A bad class is refused by the manifest, not the flags: exit 1.
	var o, e bytes.Buffer
	if rc := run([]string{"firmware", "sign", "--key", key, "--class", "Bad Class", "--version", "1.2.3", "--image", img}, &o, &e); rc != 1 {
		t.Errorf("bad class: exit %d", rc)
	}
}

func TestRenderProgress(t *testing.T) {
	p := dfu.Progress{Phase: dfu.PhaseTransfer, Done: 256 * 1024, Total: 512 * 1024, Elapsed: 20 * time.Second}
	got := renderProgress(p, 10)
	want := "transfer [#####.....]  50%  256/512 KiB  12.8 KiB/s  0:20 left"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
