package qemutest

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestModuleFiles(t *testing.T) {
	root := t.TempDir()
	dep := "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n" +
		"kernel/fs/jbd2/jbd2.ko:\nkernel/lib/crc16.ko:\nkernel/fs/mbcache.ko:\n" +
		"kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko\n" +
		"kernel/drivers/virtio/virtio.ko:\nkernel/drivers/x/gpio-sim.ko:\nnot a line\n"
	if err := os.WriteFile(filepath.Join(root, "modules.dep"), []byte(dep), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "modules.builtin"), []byte("kernel/crypto/crc32c_generic.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, load, err := moduleFiles(root, "ext4", "virtio-blk", "crc32c_generic", "gpio_sim", "jbd2")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/modules/crc16.ko", "/modules/mbcache.ko", "/modules/jbd2.ko", "/modules/ext4.ko",
		"/modules/virtio.ko", "/modules/virtio_blk.ko", "/modules/gpio-sim.ko"}
	if !reflect.DeepEqual(load, want) {
		t.Errorf("load order %q, want %q", load, want)
	}
	if len(files) != len(want) || files[3].Host != filepath.Join(root, "kernel/fs/ext4/ext4.ko") || files[3].Guest != want[3] {
		t.Errorf("files %+v", files)
	}
	if _, _, err := moduleFiles(root, "ext4", "no_such"); !errors.Is(err, ErrNoModule) {
		t.Errorf("unknown module: %v", err)
	}
	if _, _, err := moduleFiles(t.TempDir(), "ext4"); err == nil {
		t.Error("no modules.dep accepted")
	}
}

func TestMakeExt4(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := MakeExt4(img, 16); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 16<<20 {
		t.Errorf("image is %d bytes", len(b))
	}
	// The ext2/3/4 superblock starts at 1024, its magic at offset 56.
	if m := binary.LittleEndian.Uint16(b[1024+56:]); m != 0xEF53 {
		t.Errorf("superblock magic %#x", m)
	}
	if err := MakeExt4(filepath.Join(t.TempDir(), "no", "such", "dir"), 16); err == nil {
		t.Error("image in a missing directory made")
	}
}
