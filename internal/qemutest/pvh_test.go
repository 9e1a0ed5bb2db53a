package qemutest

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"os"
	"testing"
)

// TestPVH unpacks Debian's own kernel and checks it has its PVH entry.
func TestPVH(t *testing.T) {
	kvers := Kernels()
	if len(kvers) == 0 {
		t.Fatal("no kernel in /boot with modules: apt-get install linux-image-amd64")
	}
	k, err := PVH("/boot/vmlinuz-"+kvers[0], t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(k)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v", f.Machine)
	}
}

func TestPVHRefuses(t *testing.T) {
	// An ELF without the note, packed as a bzImage packs its kernel.
	plain, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	var img bytes.Buffer
	img.WriteString("bzImage setup code \x1f\x8b\x08 false start ")
	zw := gzip.NewWriter(&img)
	zw.Write(plain)
	zw.Close()
	img.WriteString("trailer")
	raw, err := decompressKernel(img.Bytes())
	if err != nil || !bytes.Equal(raw, plain) {
		t.Fatalf("decompress: %v (%d bytes, want %d)", err, len(raw), len(plain))
	}
	if err := hasPVHEntry(raw); !errors.Is(err, ErrNoPVH) {
		t.Errorf("ELF without PVH note: %v", err)
	}
	for _, bad := range [][]byte{nil, []byte("no kernel here"), []byte("\xfd7zXZ\x00 broken"), []byte("\x1f\x8b\x08\x00 broken")} {
		if raw, err := decompressKernel(bad); err == nil {
			if hasPVHEntry(raw) == nil {
				t.Errorf("%q: accepted", bad)
			}
		}
	}
	if err := hasPVHEntry([]byte("\x7fELF truncated")); !errors.Is(err, ErrNoPVH) {
		t.Errorf("truncated ELF: %v", err)
	}
}
