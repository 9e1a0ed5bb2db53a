package pkgtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/internal/pkgbuild"
	"github.com/guichet/guichet/internal/qemutest"
)

// Versions the test installs, then upgrades to.
const (
	oldVersion = "0.9.0~pkgtest1"
	newVersion = "0.9.0~pkgtest2"
)

// debugConsole copies the guest's console to stderr when PKGTEST_CONSOLE
// is set.
var debugConsole = func() io.Writer {
	if os.Getenv("PKGTEST_CONSOLE") != "" {
		return os.Stderr
	}
	return nil
}()

// built is what every test shares: the programs and packages, made once.
var built struct {
	once     sync.Once
	err      error
	dir      string // holds old/, new/ and clocksync
	old, new []string
}

func goBin() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// repoRoot is the module's root, two levels up from this package.
func repoRoot(tb testing.TB) string {
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}

// packages builds the programs, the old and new packages and the guest's
// clocksync once per test binary.
func packages(tb testing.TB) (dir string, old, new []string) {
	tb.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "pkgtest")
		if built.err != nil {
			return
		}
		root := repoRoot(tb)
		// The layout make package uses: bin/linux_ARCH/PROGRAM.
		bin := filepath.Join(built.dir, "bin", "linux_amd64")
		build := func(cgo string, out string, pkgs ...string) error {
			cmd := exec.Command(goBin(), append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", out}, pkgs...)...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo, "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-buildvcs=false")
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build %v: %v\n%s", pkgs, err, b)
			}
			return nil
		}
		if built.err = build("1", bin+"/", "./cmd/guichetd", "./cmd/guichet"); built.err != nil {
			return
		}
		if built.err = build("0", bin+"/", "./cmd/guichet-platform"); built.err != nil {
			return
		}
		if built.err = build("0", filepath.Join(built.dir, "clocksync"), "./internal/pkgtest/clocksync"); built.err != nil {
			return
		}
		for _, v := range []struct {
			version string
			dst     *[]string
		}{{oldVersion, &built.old}, {newVersion, &built.new}} {
			out := filepath.Join(built.dir, v.version)
			if built.err = os.MkdirAll(out, 0o755); built.err != nil {
				return
			}
			*v.dst = buildPackages(tb, root, bin, v.version, out)
		}
	})
	if built.err != nil {
		tb.Fatal(built.err)
	}
	return built.dir, built.old, built.new
}

// buildPackages makes the packages of version into out.
func buildPackages(tb testing.TB, root, bin, version, out string) []string {
	// The kiosk's package (architecture all) too: the root holds its
	// Depends (cage, Chromium) for the kiosk's test.
	o := pkgbuild.Options{Root: root, Bin: filepath.Dir(bin), Version: version}
	pkgs, _, err := pkgbuild.Packages(o, "amd64")
	if err != nil {
		tb.Fatal(err)
	}
	all, _, err := pkgbuild.Packages(o, "all")
	if err != nil {
		tb.Fatal(err)
	}
	pkgs = append(pkgs, all...)
	var debs []string
	for _, p := range pkgs {
		deb, err := pkgbuild.Build(p, out)
		if err != nil {
			tb.Fatal(err)
		}
		debs = append(debs, deb)
	}
	return debs
}

// vm is a booted root with the packages shared at /io.
type vm struct {
	tb    testing.TB
	m     *qemutest.Machine
	share string
}

// boot starts the cached root (building it first if needed) with the
// packages' directory shared as /io in the guest.
func boot(tb testing.TB) *vm {
	tb.Helper()
	dir, old, new := packages(tb)
	r, err := ForDebs(append(old, new...)...)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	img, err := r.Image(ctx, DefaultCache(), testLog{tb})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("root %s (%v)", img, time.Since(start).Round(time.Second))
	kvers := qemutest.Kernels()
	if len(kvers) == 0 {
		tb.Fatalf("no kernel in /boot with modules: apt-get install %s", qemutest.Packages)
	}
	files, modules, err := qemutest.ModuleFiles(kvers[0], qemutest.RootModules...)
	if err != nil {
		tb.Fatal(err)
	}
	kernel, err := qemutest.PVH("/boot/vmlinuz-"+kvers[0], tb.TempDir())
	if err != nil {
		tb.Logf("booting the compressed kernel: %v", err)
		kernel = "/boot/vmlinuz-" + kvers[0]
	}
	m, err := qemutest.Start(ctx, qemutest.Guest{
		Kernel: kernel, Files: files, Modules: modules,
		Root:   img,
		Shares: []qemutest.Share{{Tag: "io", Host: dir}},
		Memory: 2048, CPUs: 2,
		Append:  "systemd.show_status=error",
		Timeout: 9 * time.Minute,
		Console: debugConsole,
	})
	if err != nil {
		tb.Fatal(err)
	}
	v := &vm{tb: tb, m: m, share: dir}
	tb.Cleanup(func() {
		m.Kill()
		m.Wait()
	})
	v.sh("mkdir -p /io && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 io /io")
	// degraded is fine here (a unit the root does not need may fail);
	// the list of failed units is logged.
	out, _ := v.try("systemctl is-system-running --wait; systemctl --failed --no-legend")
	tb.Logf("guest up in %v: %s", time.Since(start).Round(time.Second), strings.TrimSpace(out))
	return v
}

type testLog struct{ tb testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// try runs script in the guest and returns its output and exit status.
func (v *vm) try(script string) (string, int) {
	v.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	out, status, err := v.m.Exec(ctx, script)
	if d := time.Since(start); d > 5*time.Second {
		first, _, _ := strings.Cut(strings.TrimSpace(script), "\n")
		v.tb.Logf("guest: %v: %.60s", d.Round(100*time.Millisecond), first)
	}
	if err != nil {
		v.tb.Fatalf("guest: %s: %v\n%s", script, err, out)
	}
	return out, status
}

// sh runs script in the guest and fails the test if it fails.
func (v *vm) sh(script string) string {
	v.tb.Helper()
	out, status := v.try(script)
	if status != 0 {
		v.tb.Fatalf("guest: %s: exit status %d\n%s", script, status, out)
	}
	return out
}

// waitActive waits for unit to be active (for a Type=notify unit: ready),
// and fails with its journal if it is not within a minute.
func (v *vm) waitActive(unit string) {
	v.tb.Helper()
	out, status := v.try(fmt.Sprintf(`for i in $(seq 600); do
	s=$(systemctl is-active %[1]s); [ "$s" = active ] && exit 0
	[ "$s" = failed ] && break; sleep 0.1; done
systemctl status --no-pager %[1]s; journalctl -b --no-pager -u %[1]s | tail -n 30; exit 1`, unit))
	if status != 0 {
		v.tb.Fatalf("%s is not active:\n%s", unit, out)
	}
}

// Figures of one run of the scenario.
type figures struct {
	installToReady time.Duration
}

// install installs the guichet and guichet-platform packages in dir and
// configures them as a site with its own broker: the platform enrols the
// device's key, guichetd trusts the platform's. It returns when guichetd
// is ready.
func (v *vm) install(debs []string) time.Duration {
	v.tb.Helper()
	var names []string
	for _, d := range debs {
		if b := filepath.Base(d); strings.HasPrefix(b, "guichet_") || strings.HasPrefix(b, "guichet-platform_") {
			names = append(names, "/io/"+filepath.Base(filepath.Dir(d))+"/"+b)
		}
	}
	start := time.Now()
	v.sh("DEBIAN_FRONTEND=noninteractive dpkg -i " + strings.Join(names, " "))
	v.sh(`cat > /etc/guichet/platform.yaml <<'EOF'
instance: p1
store: /var/lib/guichet-platform/platform.db
key_file: /var/lib/guichet-platform/platform.key
broker: {urls: ["tcp://127.0.0.1:1883"]}
rules: {decline_codes: ["134567890123456789"]}
EOF
systemctl restart guichet-platform`)
	v.waitActive("guichet-platform")
	v.sh(`set -e
P="runuser -u guichet-platform -- guichet-platform --config /etc/guichet/platform.yaml"
PK=$($P pubkey)
cat > /etc/guichet/guichetd.yaml <<EOF
device: {id: qemu-till-1, tenant: test-shop}
state_dir: /var/lib/guichet
broker: {urls: ["tcp://127.0.0.1:1883"]}
platform_key: "$PK"
hardware: sim
ui: {listen: "127.0.0.1:8080", socket: /run/guichet/api.sock}
checkout: {currency: CNY}
EOF
DK=$(runuser -u guichet -- guichet keygen)
$P enrol --tenant test-shop --device qemu-till-1 --key "$DK"
systemctl restart guichetd`)
	v.waitActive("guichetd")
	return time.Since(start)
}

// payment is the part of guichet pay's answer the test reads.
type payment struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
	Status string `json:"status"`
}

func scenario(tb testing.TB) figures {
	v := boot(tb)
	_, old, new := packages(tb)
	var f figures

	// Install, configure, ready.
	f.installToReady = v.install(old)
	tb.Logf("installed and ready in %v", f.installToReady.Round(time.Millisecond))
	v.sh(`id guichet && id guichet-platform
test "$(stat -c %U:%a /var/lib/guichet)" = guichet:700 || { stat /var/lib/guichet; exit 1; }
systemctl is-enabled guichetd guichet-platform`)

	// The self-test on simulated hardware, through the daemon; the guest
	// has no time server: clocksync stands in for one.
	v.sh("/io/clocksync")
	if out, status := v.try("guichet selftest"); status != 0 {
		tb.Errorf("guichet selftest: exit status %d\n%s", status, out)
	} else {
		tb.Logf("selftest:\n%s", out)
	}

	// A payment through the Unix socket, approved by the platform.
	var p payment
	out := v.sh("guichet pay --amount 12.34 --code 134567890123456780")
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.Status != "approved" || p.Amount != 1234 || p.ID == "" {
		tb.Fatalf("payment: %v: %s", err, out)
	}
	report := v.sh("guichet report")
	if !strings.Contains(report, "12.34 (1)") {
		tb.Errorf("report before the upgrade lacks the payment:\n%s", report)
	}

	// The upgrade keeps the store: the payment is still there.
	var upgrade []string
	for _, d := range new {
		if b := filepath.Base(d); strings.HasPrefix(b, "guichet_") || strings.HasPrefix(b, "guichet-platform_") {
			upgrade = append(upgrade, "/io/"+filepath.Base(filepath.Dir(d))+"/"+b)
		}
	}
	v.sh("DEBIAN_FRONTEND=noninteractive dpkg -i --force-confold " + strings.Join(upgrade, " "))
	if got := strings.TrimSpace(v.sh("dpkg-query -W -f='${Version}' guichet")); got != newVersion {
		tb.Errorf("after the upgrade guichet is %q, want %q", got, newVersion)
	}
	v.waitActive("guichetd")
	if got := v.sh("guichet report"); !strings.Contains(got, "12.34 (1)") {
		tb.Errorf("report after the upgrade lacks the payment:\n%s", got)
	}
	if got := v.sh("guichet receipt --id " + p.ID); !strings.Contains(got, "12.34") {
		tb.Errorf("receipt of %s after the upgrade:\n%s", p.ID, got)
	}

	// Remove keeps the store and the configuration; purge deletes them.
	v.sh("DEBIAN_FRONTEND=noninteractive dpkg -r guichet guichet-platform")
	v.sh(`test ! -e /usr/bin/guichetd && ! systemctl is-active --quiet guichetd
test -d /var/lib/guichet && ls -A /var/lib/guichet | grep -q . && test -f /etc/guichet/guichetd.yaml
dpkg-query -W -f='${Status}\n' guichet | grep -q config-files`)
	v.sh("DEBIAN_FRONTEND=noninteractive dpkg --purge guichet guichet-platform")
	v.sh(`test ! -e /var/lib/guichet && test ! -e /var/lib/guichet-platform && test ! -e /etc/guichet
! dpkg-query -W guichet 2>/dev/null | grep -q .`)

	res, err := v.m.Poweroff(context.Background())
	if err != nil {
		tb.Fatalf("poweroff: %v", err)
	}
	tb.Logf("guest: agent after %v, whole boot %v", res.Boot.Round(time.Second), res.Total.Round(time.Second))
	return f
}

// TestPackage installs the amd64 packages on Debian 12 under systemd,
// takes a payment, upgrades, removes and purges (see scenario).
func TestPackage(t *testing.T) {
	scenario(t)
}

// BenchmarkInstallToReady reports the time from dpkg -i to guichetd ready
// (configured, enrolled with the site's platform) in the qemu boot.
func BenchmarkInstallToReady(b *testing.B) {
	var f figures
	for range b.N {
		f = scenario(b)
	}
	benchfig.Report(b, "pkg_install_to_ready_s", f.installToReady.Seconds(), "s")
}
