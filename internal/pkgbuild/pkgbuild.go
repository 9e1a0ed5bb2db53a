// Package pkgbuild defines the Debian packages of guichet and builds them
// with nfpm used as a Go library (github.com/goreleaser/nfpm/v2, its deb
// packager): nothing but Go is needed, and `make package` runs it through
// the tiny command in ./build (`go run ./internal/pkgbuild/build`).
//
// The packages:
//
//   - guichet (amd64, arm64): guichetd and the guichet command, the
//     hardened guichetd.service, the service user and the device groups
//     (sysusers.d), /var/lib/guichet (tmpfiles.d), udev rules giving those
//     groups the cameras, serial ports, GPIO, SPI, I2C, USB printers, input
//     devices and the TPM, and /etc/guichet/guichetd.yaml as a conffile (a
//     default on simulated hardware that passes `guichetd --check`).
//   - guichet-platform (amd64, arm64): the reference platform, pure Go
//     (CGO_ENABLED=0), its unit, user and /etc/guichet/platform.yaml.
//   - guichet-kiosk (all): the kiosk unit (cage and Chromium as their own
//     user), its user, and Chromium's managed policies keeping the browser
//     on the appliance's origin.
//
// The maintainer scripts (deploy/package/scripts) create the users and
// directories, reload udev, and enable and restart the unit where systemd
// runs; removal keeps the store and the keys, purge deletes them.
//
// The binaries contract: the builder takes the programs from
// BIN/linux_ARCH/ (BIN is bin/ in `make package`): guichetd and guichet
// for the guichet package, guichet-platform for guichet-platform. `make
// package` builds bin/linux_amd64/ here (cgo, OpenCV) and the pure-Go
// bin/linux_arm64/guichet-platform; bin/linux_arm64/{guichetd,guichet}
// come from `make build-arm64` (a cross build with OpenCV, or the
// scanner-only build), and the arm64 guichet package is made when they
// are there. amd64 must be complete; for another architecture a package
// whose binaries are missing is skipped and reported. The guichet
// package's library dependencies are read from its binaries' ELF
// DT_NEEDED entries, so a build without OpenCV does not depend on it.
//
// Output: OUT/NAME_VERSION_ARCH.deb (dist/guichet_1.2.3_amd64.deb).
package pkgbuild

import (
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// Arches are the architectures guichet and guichet-platform are built for.
var Arches = []string{"amd64", "arm64"}

// Maintainer is the Maintainer field of every package.
const Maintainer = "guichet maintainers <guichet@example.com>"

// Options say what to build from where.
type Options struct {
	// Root is the repository's root: deploy/ is read from it.
	Root string
	// Bin holds one directory of programs per architecture, linux_ARCH.
	Bin string
	// Version is the Debian version of every package (digits first).
	Version string
	// MTime is the time stamped on every file, for reproducible packages;
	// zero: the last commit's time.
	MTime time.Time
}

var versionRE = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~-]*$`)

func (o *Options) validate() error {
	if !versionRE.MatchString(o.Version) {
		return fmt.Errorf("pkgbuild: version %q: must start with a digit and hold only letters, digits and .+~-", o.Version)
	}
	if _, err := os.Stat(filepath.Join(o.Root, "deploy", "package")); err != nil {
		return fmt.Errorf("pkgbuild: root %s: %w", o.Root, err)
	}
	return nil
}

// Package is one package to build.
type Package struct {
	// Info is nfpm's definition.
	Info *nfpm.Info
	// File is its file name, NAME_VERSION_ARCH.deb.
	File string
}

// FileName is a package's stable file name.
func FileName(name, version, arch string) string {
	return name + "_" + version + "_" + arch + ".deb"
}

// Packages defines the packages of one architecture ("all" for the
// kiosk). skipped names the packages left out for want of binaries
// (for amd64 that is an error instead).
func Packages(o Options, arch string) (pkgs []Package, skipped []string, err error) {
	if err := o.validate(); err != nil {
		return nil, nil, err
	}
	if arch == "all" {
		p, err := kiosk(o)
		return []Package{p}, nil, err
	}
	bin := filepath.Join(o.Bin, "linux_"+arch)
	for _, def := range []struct {
		name string
		bins []string
		make func(Options, string, string) (Package, error)
	}{
		{"guichet", []string{"guichetd", "guichet"}, appliance},
		{"guichet-platform", []string{"guichet-platform"}, platform},
	} {
		var missing []string
		for _, b := range def.bins {
			if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
				missing = append(missing, filepath.Join(bin, b))
			}
		}
		if len(missing) > 0 {
			if arch == "amd64" {
				return nil, nil, fmt.Errorf("pkgbuild: %s %s: missing %s", def.name, arch, strings.Join(missing, ", "))
			}
			skipped = append(skipped, fmt.Sprintf("%s %s (missing %s)", def.name, arch, strings.Join(missing, ", ")))
			continue
		}
		p, err := def.make(o, arch, bin)
		if err != nil {
			return nil, nil, err
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, skipped, nil
}

// Build writes p into dir and returns its path.
func Build(p Package, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("pkgbuild: %w", err)
	}
	info := nfpm.WithDefaults(p.Info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("pkgbuild: %s: %w", p.File, err)
	}
	path := filepath.Join(dir, p.File)
	tmp, err := os.CreateTemp(dir, ".pkgbuild-*")
	if err != nil {
		return "", fmt.Errorf("pkgbuild: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := deb.Default.Package(info, tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("pkgbuild: %s: %w", p.File, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", fmt.Errorf("pkgbuild: %s: %w", p.File, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("pkgbuild: %s: %w", p.File, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("pkgbuild: %s: %w", p.File, err)
	}
	return path, nil
}

// DefaultVersion is the version when none is given: the last v* tag
// (v1.2.3 gives 1.2.3; 4 commits later, 1.2.3+4.gHASH, which dpkg orders
// after 1.2.3), else 0.0.0+gitHASH, else 0.0.0.
func DefaultVersion(root string) string {
	if out, err := git(root, "describe", "--tags", "--match", "v[0-9]*"); err == nil {
		v := strings.TrimPrefix(out, "v")
		if m := regexp.MustCompile(`^(.*)-([0-9]+)-(g[0-9a-f]+)$`).FindStringSubmatch(v); m != nil {
			v = m[1] + "+" + m[2] + "." + m[3]
		}
		if versionRE.MatchString(v) {
			return v
		}
	}
	if out, err := git(root, "rev-parse", "--short=12", "HEAD"); err == nil {
		return "0.0.0+git" + out
	}
	return "0.0.0"
}

// CommitTime is the last commit's time, or the Unix epoch outside a
// repository.
func CommitTime(root string) time.Time {
	out, err := git(root, "log", "-1", "--format=%ct")
	if err == nil {
		var s int64
		if _, err := fmt.Sscan(out, &s); err == nil {
			return time.Unix(s, 0).UTC()
		}
	}
	return time.Unix(0, 0).UTC()
}

func git(root string, args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}

// content is one file of a package.
func content(src, dst string, mode fs.FileMode, mtime time.Time) *files.Content {
	return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: mtime, Owner: "root", Group: "root"}}
}

func conffile(src, dst string, mtime time.Time) *files.Content {
	c := content(src, dst, 0o644, mtime)
	c.Type = files.TypeConfig
	return c
}

func base(o Options, name, arch, desc string) *nfpm.Info {
	mtime := o.MTime
	if mtime.IsZero() {
		mtime = CommitTime(o.Root)
	}
	o.MTime = mtime
	return &nfpm.Info{
		Name: name, Arch: arch, Platform: "linux", Version: o.Version, VersionSchema: "none",
		Section: "misc", Priority: "optional", Maintainer: Maintainer, Description: desc,
		Vendor: "guichet", Homepage: "https://github.com/guichet/guichet", License: "Proprietary",
		MTime:        mtime,
		Overridables: nfpm.Overridables{Umask: 0o022, Deb: nfpm.Deb{Compression: "xz"}},
	}
}

func scripts(root, name string) nfpm.Scripts {
	d := filepath.Join(root, "deploy", "package", "scripts")
	return nfpm.Scripts{
		PostInstall: filepath.Join(d, name+".postinst"),
		PreRemove:   filepath.Join(d, name+".prerm"),
		PostRemove:  filepath.Join(d, name+".postrm"),
	}
}

func appliance(o Options, arch, bin string) (Package, error) {
	info := base(o, "guichet", arch, "guichet appliance: checkout terminal and e-ID counter daemon\n"+
		" guichetd drives the counter's hardware, takes payments and activations,\n"+
		" stores them durably and syncs them with the platform; guichet is the\n"+
		" technician's command. Ships on simulated hardware: see /etc/guichet/guichetd.yaml.")
	pk := filepath.Join(o.Root, "deploy", "package")
	m := info.MTime
	info.Contents = files.Contents{
		content(filepath.Join(bin, "guichetd"), "/usr/bin/guichetd", 0o755, m),
		content(filepath.Join(bin, "guichet"), "/usr/bin/guichet", 0o755, m),
		content(filepath.Join(o.Root, "deploy", "systemd", "guichetd.service"), "/lib/systemd/system/guichetd.service", 0o644, m),
		content(filepath.Join(pk, "sysusers", "guichet.conf"), "/usr/lib/sysusers.d/guichet.conf", 0o644, m),
		content(filepath.Join(pk, "tmpfiles", "guichet.conf"), "/usr/lib/tmpfiles.d/guichet.conf", 0o644, m),
		content(filepath.Join(pk, "udev", "60-guichet.rules"), "/lib/udev/rules.d/60-guichet.rules", 0o644, m),
		content(filepath.Join(o.Root, "README.md"), "/usr/share/doc/guichet/README.md", 0o644, m),
		conffile(filepath.Join(pk, "etc", "guichetd.yaml"), "/etc/guichet/guichetd.yaml", m),
	}
	var deps []string
	for _, b := range []string{"guichetd", "guichet"} {
		d, err := LibraryDepends(filepath.Join(bin, b))
		if err != nil {
			return Package{}, err
		}
		deps = append(deps, d...)
	}
	slices.Sort(deps)
	info.Depends = append(slices.Compact(deps), "systemd")
	info.Recommends = []string{"pcscd"}
	info.Suggests = []string{"guichet-kiosk"}
	info.Scripts = scripts(o.Root, "guichet")
	return Package{Info: info, File: FileName("guichet", o.Version, arch)}, nil
}

func platform(o Options, arch, bin string) (Package, error) {
	info := base(o, "guichet-platform", arch, "guichet reference platform\n"+
		" The central side of the guichet protocol over MQTT: applies each device's\n"+
		" records once, answers with signed acks and authorisations, enrols devices.")
	pk := filepath.Join(o.Root, "deploy", "package")
	m := info.MTime
	info.Contents = files.Contents{
		content(filepath.Join(bin, "guichet-platform"), "/usr/bin/guichet-platform", 0o755, m),
		content(filepath.Join(o.Root, "deploy", "systemd", "guichet-platform.service"), "/lib/systemd/system/guichet-platform.service", 0o644, m),
		content(filepath.Join(pk, "sysusers", "guichet-platform.conf"), "/usr/lib/sysusers.d/guichet-platform.conf", 0o644, m),
		content(filepath.Join(pk, "tmpfiles", "guichet-platform.conf"), "/usr/lib/tmpfiles.d/guichet-platform.conf", 0o644, m),
		conffile(filepath.Join(pk, "etc", "platform.yaml"), "/etc/guichet/platform.yaml", m),
	}
	// Pure Go: no library at all.
	if d, err := LibraryDepends(filepath.Join(bin, "guichet-platform")); err != nil {
		return Package{}, err
	} else if len(d) > 0 {
		return Package{}, fmt.Errorf("pkgbuild: guichet-platform %s: not a pure Go build, it needs %v (build it with CGO_ENABLED=0)", arch, d)
	}
	info.Depends = []string{"systemd"}
	info.Recommends = []string{"mosquitto"}
	info.Scripts = scripts(o.Root, "guichet-platform")
	return Package{Info: info, File: FileName("guichet-platform", o.Version, arch)}, nil
}

func kiosk(o Options) (Package, error) {
	info := base(o, "guichet-kiosk", "all", "guichet kiosk: the cashier's screen full screen\n"+
		" Chromium in kiosk mode under the cage Wayland compositor, as its own user,\n"+
		" restarted when it dies, with a fresh profile, kept on the appliance's UI.")
	pk := filepath.Join(o.Root, "deploy", "package")
	m := info.MTime
	info.Contents = files.Contents{
		content(filepath.Join(o.Root, "deploy", "systemd", "guichet-kiosk.service"), "/lib/systemd/system/guichet-kiosk.service", 0o644, m),
		content(filepath.Join(pk, "sysusers", "guichet-kiosk.conf"), "/usr/lib/sysusers.d/guichet-kiosk.conf", 0o644, m),
		conffile(filepath.Join(pk, "chromium", "guichet-kiosk.json"), "/etc/chromium/policies/managed/guichet-kiosk.json", m),
	}
	// Debian 12's cage will not start without Xwayland.
	info.Depends = []string{"cage", "xwayland", "chromium", "systemd"}
	info.Recommends = []string{"guichet"}
	info.Scripts = scripts(o.Root, "guichet-kiosk")
	return Package{Info: info, File: FileName("guichet-kiosk", o.Version, "all")}, nil
}

// sonames maps the shared libraries guichet's programs link to the
// Debian 12 packages holding them (the same names on every architecture).
var sonames = map[string]string{
	"libc.so.6": "libc6", "libm.so.6": "libc6", "libpthread.so.0": "libc6", "libdl.so.2": "libc6", "libresolv.so.2": "libc6",
	"libstdc++.so.6": "libstdc++6", "libgcc_s.so.1": "libgcc-s1",
	"libpcsclite.so.1": "libpcsclite1", "libZXing.so.2": "libzxing2",
}

var opencvRE = regexp.MustCompile(`^libopencv_([a-z0-9_]+)\.so\.(\d+)$`)

// ErrUnknownLibrary is returned for a shared library no Debian package is
// known for.
var ErrUnknownLibrary = errors.New("unknown shared library")

// LibraryDepends reads a program's DT_NEEDED libraries (any
// architecture) and returns the Debian packages holding them, sorted; a
// static program needs none.
func LibraryDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pkgbuild: %s: %w", path, err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil {
		return nil, fmt.Errorf("pkgbuild: %s: %w", path, err)
	}
	var deps []string
	for _, l := range libs {
		if p, ok := sonames[l]; ok {
			deps = append(deps, p)
			continue
		}
		if m := opencvRE.FindStringSubmatch(l); m != nil {
			mod := strings.ReplaceAll(m[1], "_", "-")
			// The contrib modules (wechat_qrcode and others) are one package.
			if mod == "wechat-qrcode" {
				mod = "contrib"
			}
			deps = append(deps, "libopencv-"+mod+m[2])
			continue
		}
		return nil, fmt.Errorf("pkgbuild: %s: %w %s", path, ErrUnknownLibrary, l)
	}
	slices.Sort(deps)
	return slices.Compact(deps), nil
}
