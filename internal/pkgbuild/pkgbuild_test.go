package pkgbuild

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/config"
)

var (
	staticOnce sync.Once
	staticBin  string
	staticErr  error
)

// static builds a small pure-Go program, a stand-in for the packaged
// programs.
func static(t *testing.T) string {
	t.Helper()
	staticOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pkgbuild-static")
		if err != nil {
			staticErr = err
			return
		}
		os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module stub\n\ngo 1.22\n"), 0o644)
		cmd := exec.Command("go", "build", "-o", "stub", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			staticErr = errors.New(string(out))
			return
		}
		staticBin = filepath.Join(dir, "stub")
	})
	if staticErr != nil {
		t.Fatalf("building a stand-in program: %v", staticErr)
	}
	return staticBin
}

// binDir makes BIN/linux_ARCH/ holding the named programs.
func binDir(t *testing.T, arch string, names ...string) string {
	t.Helper()
	bin := t.TempDir()
	src, err := os.ReadFile(static(t))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(bin, "linux_"+arch), 0o755)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(bin, "linux_"+arch, n), src, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func dpkgDeb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// entry is one line of dpkg-deb -c: mode, owner and path.
type entry struct{ mode, owner string }

func listing(t *testing.T, deb string) map[string]entry {
	t.Helper()
	m := map[string]entry{}
	for _, l := range strings.Split(strings.TrimSpace(dpkgDeb(t, "-c", deb)), "\n") {
		f := strings.Fields(l)
		m[strings.TrimPrefix(f[len(f)-1], ".")] = entry{f[0], f[1]}
	}
	return m
}

// control unpacks the control archive into a directory.
func control(t *testing.T, deb string) string {
	t.Helper()
	dir := t.TempDir()
	dpkgDeb(t, "--control", deb, dir)
	return dir
}

func buildAll(t *testing.T, o Options, arch string) map[string]string {
	t.Helper()
	pkgs, skipped, err := Packages(o, arch)
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) > 0 {
		t.Fatalf("skipped %v", skipped)
	}
	out := t.TempDir()
	paths := map[string]string{}
	for _, p := range pkgs {
		path, err := Build(p, out)
		if err != nil {
			t.Fatal(err)
		}
		paths[p.Info.Name] = path
	}
	return paths
}

func TestAppliancePackage(t *testing.T) {
	o := Options{Root: root(t), Bin: binDir(t, "amd64", "guichetd", "guichet", "guichet-platform"), Version: "1.2.3", MTime: time.Unix(1700000000, 0)}
	paths := buildAll(t, o, "amd64")
	deb := paths["guichet"]
	if filepath.Base(deb) != "guichet_1.2.3_amd64.deb" {
		t.Errorf("file name %s", filepath.Base(deb))
	}
	files := listing(t, deb)
	for path, mode := range map[string]string{
		"/usr/bin/guichetd":                    "-rwxr-xr-x",
		"/usr/bin/guichet":                     "-rwxr-xr-x",
		"/lib/systemd/system/guichetd.service": "-rw-r--r--",
		"/usr/lib/sysusers.d/guichet.conf":     "-rw-r--r--",
		"/usr/lib/tmpfiles.d/guichet.conf":     "-rw-r--r--",
		"/lib/udev/rules.d/60-guichet.rules":   "-rw-r--r--",
		"/etc/guichet/guichetd.yaml":           "-rw-r--r--",
	} {
		e, ok := files[path]
		if !ok {
			t.Errorf("%s missing", path)
			continue
		}
		if e.mode != mode || e.owner != "root/root" {
			t.Errorf("%s: %s %s, want %s root/root", path, e.mode, e.owner, mode)
		}
	}
	// Nothing under /var/lib: the store is made at install, so that
	// dpkg never removes it.
	for p := range files {
		if strings.HasPrefix(p, "/var/") {
			t.Errorf("ships %s", p)
		}
	}
	ctl := control(t, deb)
	conf, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
	if strings.TrimSpace(string(conf)) != "/etc/guichet/guichetd.yaml" {
		t.Errorf("conffiles %q", conf)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		fi, err := os.Stat(filepath.Join(ctl, s))
		if err != nil || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s: %v (mode %v)", s, err, fi)
			continue
		}
		if out, err := exec.Command("sh", "-n", filepath.Join(ctl, s)).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %s", s, out)
		}
	}
	post, _ := os.ReadFile(filepath.Join(ctl, "postinst"))
	for _, want := range []string{"systemd-sysusers /usr/lib/sysusers.d/guichet.conf", "systemd-tmpfiles --create", "udevadm trigger", "[ -d /run/systemd/system ]", "systemctl enable guichetd.service", "systemctl restart guichetd.service"} {
		if !strings.Contains(string(post), want) {
			t.Errorf("postinst lacks %q", want)
		}
	}
	rm, _ := os.ReadFile(filepath.Join(ctl, "postrm"))
	if !regexp.MustCompile(`purge\)\n\trm -rf /var/lib/guichet`).Match(rm) {
		t.Errorf("postrm does not delete the store on purge only:\n%s", rm)
	}
	if got := strings.TrimSpace(dpkgDeb(t, "-f", deb, "Version")); got != "1.2.3" {
		t.Errorf("Version %q", got)
	}
	// The stand-in programs are static: only systemd is needed.
	if got := strings.TrimSpace(dpkgDeb(t, "-f", deb, "Depends")); got != "systemd" {
		t.Errorf("Depends %q", got)
	}

	plat := paths["guichet-platform"]
	pf := listing(t, plat)
	for _, p := range []string{"/usr/bin/guichet-platform", "/lib/systemd/system/guichet-platform.service", "/usr/lib/sysusers.d/guichet-platform.conf", "/etc/guichet/platform.yaml"} {
		if _, ok := pf[p]; !ok {
			t.Errorf("guichet-platform: %s missing", p)
		}
	}
	if _, ok := pf["/usr/bin/guichetd"]; ok {
		t.Error("guichet-platform ships guichetd")
	}
	conf, _ = os.ReadFile(filepath.Join(control(t, plat), "conffiles"))
	if strings.TrimSpace(string(conf)) != "/etc/guichet/platform.yaml" {
		t.Errorf("guichet-platform conffiles %q", conf)
	}
}

func TestKioskPackage(t *testing.T) {
	o := Options{Root: root(t), Bin: t.TempDir(), Version: "2.0.0+git1234abcd"}
	paths := buildAll(t, o, "all")
	deb := paths["guichet-kiosk"]
	if filepath.Base(deb) != "guichet-kiosk_2.0.0+git1234abcd_all.deb" {
		t.Errorf("file name %s", filepath.Base(deb))
	}
	files := listing(t, deb)
	for _, p := range []string{"/lib/systemd/system/guichet-kiosk.service", "/usr/lib/sysusers.d/guichet-kiosk.conf", "/etc/chromium/policies/managed/guichet-kiosk.json"} {
		if _, ok := files[p]; !ok {
			t.Errorf("%s missing", p)
		}
	}
	deps := strings.Split(strings.TrimSpace(dpkgDeb(t, "-f", deb, "Depends")), ", ")
	for _, d := range []string{"cage", "xwayland", "chromium"} {
		if !slices.Contains(deps, d) {
			t.Errorf("Depends %v lacks %s", deps, d)
		}
	}
	if a := strings.TrimSpace(dpkgDeb(t, "-f", deb, "Architecture")); a != "all" {
		t.Errorf("Architecture %s", a)
	}
	// Chromium's policies keep the browser on the appliance's origin.
	b, err := os.ReadFile(filepath.Join(root(t), "deploy", "package", "chromium", "guichet-kiosk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pol struct {
		URLBlocklist, URLAllowlist []string
		DeveloperToolsAvailability int
	}
	if err := json.Unmarshal(b, &pol); err != nil {
		t.Fatalf("guichet-kiosk.json: %v", err)
	}
	if !slices.Equal(pol.URLBlocklist, []string{"*"}) || !slices.Equal(pol.URLAllowlist, []string{"http://127.0.0.1:8080"}) || pol.DeveloperToolsAvailability != 2 {
		t.Errorf("policies: blocklist %v, allowlist %v, developer tools %d", pol.URLBlocklist, pol.URLAllowlist, pol.DeveloperToolsAvailability)
	}
}

// An arm64 tree with only the pure-Go platform gives the platform
// package and reports the appliance skipped; amd64 without the appliance
// is an error.
func TestMissingBinaries(t *testing.T) {
	o := Options{Root: root(t), Bin: binDir(t, "arm64", "guichet-platform"), Version: "1.0.0"}
	pkgs, skipped, err := Packages(o, "arm64")
	if err != nil || len(pkgs) != 1 || pkgs[0].File != "guichet-platform_1.0.0_arm64.deb" || len(skipped) != 1 || !strings.Contains(skipped[0], "guichetd") {
		t.Fatalf("arm64: %v skipped %v, %v", pkgs, skipped, err)
	}
	o.Bin = binDir(t, "amd64", "guichet-platform")
	if _, _, err := Packages(o, "amd64"); err == nil || !strings.Contains(err.Error(), "guichetd") {
		t.Fatalf("amd64 without guichetd: %v", err)
	}
}

func TestVersionChecked(t *testing.T) {
	for _, v := range []string{"", "v1.2.3", "1.2 3", "1.2/3"} {
		o := Options{Root: root(t), Bin: t.TempDir(), Version: v}
		if _, _, err := Packages(o, "all"); err == nil || !strings.Contains(err.Error(), "version") {
			t.Errorf("version %q: %v", v, err)
		}
	}
	if v := DefaultVersion(root(t)); !versionRE.MatchString(v) {
		t.Errorf("DefaultVersion %q is not a Debian version", v)
	}
}

func TestLibraryDepends(t *testing.T) {
	if d, err := LibraryDepends(static(t)); err != nil || len(d) != 0 {
		t.Errorf("static program: %v, %v", d, err)
	}
	if d, err := LibraryDepends("/usr/bin/true"); err != nil || !slices.Equal(d, []string{"libc6"}) {
		t.Errorf("/usr/bin/true: %v, %v", d, err)
	}
	// A library no package is known for is an error naming it.
	if _, err := LibraryDepends("/usr/bin/ls"); !errors.Is(err, ErrUnknownLibrary) || !strings.Contains(err.Error(), "libselinux") {
		t.Errorf("/usr/bin/ls: %v", err)
	}
	if _, err := LibraryDepends("/etc/hostname"); err == nil {
		t.Error("a text file read as a program")
	}
}

// The appliance's real build links OpenCV, ZXing and pcsclite: each
// gives its Debian package.
func TestLibraryDependsOfGuichetd(t *testing.T) {
	d, err := LibraryDepends(guichetd(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"libc6", "libopencv-core406", "libopencv-contrib406", "libpcsclite1", "libzxing2"} {
		if !slices.Contains(d, want) {
			t.Errorf("Depends %v lack %s", d, want)
		}
	}
	// Each is a package Debian has.
	out, err := exec.Command("dpkg-query", append([]string{"-W", "-f=${Package}\n"}, d...)...).CombinedOutput()
	if err != nil {
		t.Errorf("dpkg-query %v: %v\n%s", d, err, out)
	}
}

var (
	guichetdOnce sync.Once
	guichetdBin  string
	guichetdErr  error
)

// guichetd builds the real guichetd (cgo) once.
func guichetd(t *testing.T) string {
	t.Helper()
	guichetdOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pkgbuild-guichetd")
		if err != nil {
			guichetdErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", dir, "github.com/guichet/guichet/cmd/guichetd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			guichetdErr = fmt.Errorf("go build guichetd: %v\n%s", err, out)
			return
		}
		guichetdBin = filepath.Join(dir, "guichetd")
	})
	if guichetdErr != nil {
		t.Fatal(guichetdErr)
	}
	return guichetdBin
}

// TestShippedConfigs: the conffiles the packages ship are valid as they
// stand, so a fresh install starts, and the technician's check
// (guichetd --check) passes on it.
func TestShippedConfigs(t *testing.T) {
	etc := filepath.Join(root(t), "deploy", "package", "etc")
	out, err := exec.Command(guichetd(t), "--config", filepath.Join(etc, "guichetd.yaml"), "--check").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "configuration ok") {
		t.Errorf("guichetd --check of the shipped guichetd.yaml: %v\n%s", err, out)
	}
	cfg, err := config.LoadDaemon(filepath.Join(etc, "guichetd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/var/lib/guichet" || cfg.UI.Listen != "127.0.0.1:8080" || cfg.UI.Socket != "/run/guichet/api.sock" {
		t.Errorf("guichetd.yaml: state_dir %s, ui.listen %s, ui.socket %s: not where the unit, tmpfiles.d and the kiosk expect them", cfg.StateDir, cfg.UI.Listen, cfg.UI.Socket)
	}
	if _, err := config.LoadPlatform(filepath.Join(etc, "platform.yaml")); err != nil {
		t.Errorf("platform.yaml: %v", err)
	}
	// The check can fail: a broken copy is refused.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("device: {id: till-1}\nhardware: sim\n"), 0o644)
	if out, err := exec.Command(guichetd(t), "--config", bad, "--check").CombinedOutput(); err == nil {
		t.Errorf("guichetd --check passed an incomplete configuration:\n%s", out)
	}
}
