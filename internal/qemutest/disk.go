package qemutest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// MakeExt4 creates a raw disk image of sizeMB megabytes at name holding an
// empty ext4 file system, for Guest.Disks. It needs mkfs.ext4 (e2fsprogs).
func MakeExt4(name string, sizeMB int) error {
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		return fmt.Errorf("qemutest: mkfs.ext4 not found: apt-get install e2fsprogs")
	}
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("qemutest: %w", err)
	}
	err = f.Truncate(int64(sizeMB) << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("qemutest: %w", err)
	}
	// Initialise the inode tables and journal now, so that the guest's
	// kernel does not write them in the background while a test runs.
	out, err := exec.Command(mkfs, "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("qemutest: mkfs.ext4 %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ModuleFiles resolves the kernel modules names (as modprobe names them:
// "virtio_blk", "ext4") of kernel kver with their dependencies, from
// Debian's /lib/modules/KVER/modules.dep, and returns the files to copy
// into the guest and the guest paths to load, dependencies first. Modules
// built into the kernel are left out.
func ModuleFiles(kver string, names ...string) ([]File, []string, error) {
	return moduleFiles(filepath.Join("/lib/modules", kver), names...)
}

func moduleFiles(root string, names ...string) ([]File, []string, error) {
	norm := func(s string) string { return strings.ReplaceAll(s, "-", "_") }
	builtin := map[string]bool{}
	if f, err := os.Open(filepath.Join(root, "modules.builtin")); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			builtin[norm(strings.TrimSuffix(path.Base(sc.Text()), ".ko"))] = true
		}
		f.Close()
	}
	f, err := os.Open(filepath.Join(root, "modules.dep"))
	if err != nil {
		return nil, nil, fmt.Errorf("qemutest: %w", err)
	}
	defer f.Close()
	deps := map[string][]string{} // module name -> its file, then its dependencies' files
	byFile := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		name := norm(strings.TrimSuffix(path.Base(mod), ".ko"))
		deps[name] = append([]string{mod}, strings.Fields(rest)...)
		byFile[mod] = name
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("qemutest: modules.dep: %w", err)
	}

	var (
		files []File
		load  []string
		seen  = map[string]bool{}
		visit func(name string) error
	)
	visit = func(name string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		d, ok := deps[name]
		if !ok {
			if builtin[name] {
				return nil
			}
			return fmt.Errorf("%w: %s in %s", ErrNoModule, name, root)
		}
		for _, dep := range d[1:] {
			if err := visit(byFile[dep]); err != nil {
				return err
			}
		}
		guest := "/modules/" + path.Base(d[0])
		files = append(files, File{Guest: guest, Host: filepath.Join(root, d[0])})
		load = append(load, guest)
		return nil
	}
	for _, n := range names {
		if err := visit(norm(n)); err != nil {
			return nil, nil, err
		}
	}
	return files, load, nil
}
