// Package pkgtest proves guichet's Debian packages on a real Debian 12
// under a real systemd: a root made with debootstrap, cached as an ext4
// image, booted under qemu (internal/qemutest) with systemd as PID 1.
// Its test installs the packages, starts the units, takes a payment,
// upgrades, removes and purges; the kiosk's test shows the cashier's
// screen in cage and Chromium on wlroots' headless backend.
//
// The root holds what the packages depend on (read from their control
// files) and what the tests use, so that dpkg -i needs no network; it is
// built once per package list into CacheDir/rootfs-HASH/root.img and each
// boot writes to a throwaway overlay.
package pkgtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Root is what a cached root image holds.
type Root struct {
	// Mirror and Suite are debootstrap's (http://deb.debian.org/debian,
	// bookworm).
	Mirror, Suite string
	// Packages are installed with apt-get in the debootstrapped
	// (minbase) root, besides Base.
	Packages []string
}

// Base is what every root has: systemd as init and what it needs to boot
// a machine.
var Base = []string{"systemd", "systemd-sysv", "udev", "dbus", "procps", "iproute2"}

// DefaultMirror and DefaultSuite are Debian 12's.
const (
	DefaultMirror = "http://deb.debian.org/debian"
	DefaultSuite  = "bookworm"
)

// DefaultCache is where roots are kept (the qemu tests' cache,
// deploy/make/qemu.mk); $GUICHET_QEMU_CACHE overrides it.
func DefaultCache() string {
	if d := os.Getenv("GUICHET_QEMU_CACHE"); d != "" {
		return d
	}
	return "/var/cache/guichet/qemu"
}

// layout changes when the way a root is built changes, so that older
// images are not reused.
const layout = "1"

// Key names the root: a hash of everything it is made of.
func (r Root) Key() string {
	pk := slices.Clone(r.Packages)
	slices.Sort(pk)
	pk = slices.Compact(pk)
	h := sha256.Sum256([]byte(strings.Join([]string{layout, r.Mirror, r.Suite, strings.Join(Base, ","), strings.Join(pk, ",")}, "\n")))
	return hex.EncodeToString(h[:6])
}

// Image returns the path of the root's ext4 image in cache, building it
// first if it is not there (several minutes: debootstrap downloads from
// the mirror). Progress goes to log. Concurrent builders of one root wait
// for each other.
func (r Root) Image(ctx context.Context, cache string, log io.Writer) (string, error) {
	if r.Mirror == "" {
		r.Mirror = DefaultMirror
	}
	if r.Suite == "" {
		r.Suite = DefaultSuite
	}
	dir := filepath.Join(cache, "rootfs-"+r.Key())
	img := filepath.Join(dir, "root.img")
	if _, err := os.Stat(img); err == nil {
		return img, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("pkgtest: root cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("pkgtest: root cache lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("pkgtest: root cache lock: %w", err)
	}
	if _, err := os.Stat(img); err == nil {
		return img, nil // built by whoever held the lock
	}
	if err := r.build(ctx, dir, log); err != nil {
		return "", err
	}
	return img, nil
}

// build debootstraps dir/tree, installs the packages, and makes
// dir/root.img of it; the tree is removed afterwards.
func (r Root) build(ctx context.Context, dir string, log io.Writer) (err error) {
	for _, tool := range []string{"debootstrap", "mkfs.ext4", "chroot"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("pkgtest: %s not found: apt-get install debootstrap e2fsprogs", tool)
		}
	}
	tree := filepath.Join(dir, "tree")
	if err := os.RemoveAll(tree); err != nil {
		return fmt.Errorf("pkgtest: %w", err)
	}
	defer os.RemoveAll(tree)
	run := func(name string, args ...string) error {
		fmt.Fprintf(log, "pkgtest root: %s %s\n", name, strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("pkgtest: root: %s: %w", name, err)
		}
		return nil
	}
	if err := run("debootstrap", "--variant=minbase", "--include="+strings.Join(Base, ","), r.Suite, tree, r.Mirror); err != nil {
		return err
	}
	// Services must not start in the chroot.
	policy := filepath.Join(tree, "usr/sbin/policy-rc.d")
	if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		return fmt.Errorf("pkgtest: %w", err)
	}
	proc := filepath.Join(tree, "proc")
	if err := run("mount", "-t", "proc", "proc", proc); err != nil {
		return err
	}
	mounted := true
	defer func() {
		if !mounted {
			return
		}
		if uerr := exec.Command("umount", "-l", proc).Run(); uerr != nil && err == nil {
			err = fmt.Errorf("pkgtest: umount %s: %w", proc, uerr)
		}
	}()
	if len(r.Packages) > 0 {
		if err := run("chroot", tree, "apt-get", "update", "-qq"); err != nil {
			return err
		}
		args := append([]string{tree, "apt-get", "install", "-y", "-qq", "--no-install-recommends"}, r.Packages...)
		if err := run("chroot", args...); err != nil {
			return err
		}
	}
	if err := run("chroot", tree, "apt-get", "clean"); err != nil {
		return err
	}
	if err := exec.Command("umount", proc).Run(); err != nil {
		return fmt.Errorf("pkgtest: umount %s: %w", proc, err)
	}
	mounted = false
	if err := finish(tree); err != nil {
		return err
	}
	return makeImage(ctx, tree, filepath.Join(dir, "root.img"))
}

// finish readies a tree to boot under test: no questions at first boot,
// no timers that would run apt or scrubs in the middle of a test.
func finish(tree string) error {
	for _, p := range []string{"usr/sbin/policy-rc.d"} {
		if err := os.Remove(filepath.Join(tree, p)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("pkgtest: %w", err)
		}
	}
	lists, _ := filepath.Glob(filepath.Join(tree, "var/lib/apt/lists/*_Packages"))
	for _, l := range lists {
		os.Remove(l)
	}
	for _, unit := range []string{"systemd-firstboot.service", "apt-daily.timer", "apt-daily-upgrade.timer",
		"e2scrub_all.timer", "e2scrub_reap.service", "man-db.timer", "dpkg-db-backup.timer", "fstrim.timer",
		"getty@tty1.service"} {
		p := filepath.Join(tree, "etc/systemd/system", unit)
		os.Remove(p)
		if err := os.Symlink("/dev/null", p); err != nil {
			return fmt.Errorf("pkgtest: mask %s: %w", unit, err)
		}
	}
	if err := os.WriteFile(filepath.Join(tree, "etc/hostname"), []byte("guichet-test\n"), 0o644); err != nil {
		return fmt.Errorf("pkgtest: %w", err)
	}
	return nil
}

// makeImage writes tree into a new ext4 image with room for the tests.
func makeImage(ctx context.Context, tree, img string) error {
	out, err := exec.CommandContext(ctx, "du", "-sb", "--one-file-system", tree).Output()
	if err != nil {
		return fmt.Errorf("pkgtest: du %s: %w", tree, err)
	}
	used, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	if err != nil {
		return fmt.Errorf("pkgtest: du %s: %q: %w", tree, out, err)
	}
	size := (used*13/10 + 1<<30) &^ (1<<20 - 1)
	tmp := img + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("pkgtest: %w", err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pkgtest: %w", err)
	}
	var stderr bytes.Buffer
	mkfs := exec.CommandContext(ctx, "mkfs.ext4", "-q", "-F", "-L", "guichet-root", "-d", tree,
		"-E", "lazy_itable_init=0,lazy_journal_init=0", tmp)
	mkfs.Stderr = &stderr
	if err := mkfs.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pkgtest: mkfs.ext4 -d %s: %v: %s", tree, err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Rename(tmp, img); err != nil {
		return fmt.Errorf("pkgtest: %w", err)
	}
	return nil
}

// Depends returns the packages that the .deb files depend on (Depends and
// Pre-Depends, the first of each alternative, without versions), less the
// .deb files' own packages.
func Depends(debs ...string) ([]string, error) {
	own := map[string]bool{}
	var deps []string
	for _, d := range debs {
		out, err := exec.Command("dpkg-deb", "-f", d, "Package", "Depends", "Pre-Depends").Output()
		if err != nil {
			return nil, fmt.Errorf("pkgtest: dpkg-deb -f %s: %w", d, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			field, val, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			if field == "Package" {
				own[strings.TrimSpace(val)] = true
				continue
			}
			deps = append(deps, parseDepends(val)...)
		}
	}
	deps = slices.DeleteFunc(deps, func(p string) bool { return own[p] })
	slices.Sort(deps)
	return slices.Compact(deps), nil
}

// parseDepends reads a Depends field's value (Debian policy 7.1): for
// each comma-separated relation, the first alternative's name without its
// version or architecture qualifier.
func parseDepends(v string) []string {
	var out []string
	for _, rel := range strings.Split(v, ",") {
		alt, _, _ := strings.Cut(rel, "|")
		name, _, _ := strings.Cut(strings.TrimSpace(alt), " ")
		name, _, _ = strings.Cut(name, "(")
		name, _, _ = strings.Cut(name, ":")
		if name = strings.TrimSpace(name); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// TestPackages are what the tests use in the guest besides the packages'
// dependencies: the site's broker for the payment's authorisation, grim
// for the kiosk's screenshot and a font with Chinese glyphs for its page.
var TestPackages = []string{"mosquitto", "grim", "fonts-wqy-microhei"}

// ForDebs is the root the tests boot to install debs: their dependencies
// and TestPackages.
func ForDebs(debs ...string) (Root, error) {
	deps, err := Depends(debs...)
	if err != nil {
		return Root{}, err
	}
	return Root{Mirror: DefaultMirror, Suite: DefaultSuite, Packages: append(deps, TestPackages...)}, nil
}
