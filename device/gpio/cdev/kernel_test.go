//go:build !qemuguest

package cdev

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/internal/qemutest"
)

// gpioSimCache is where deploy/make/qemu.mk (target qemu-gpio-sim) builds
// gpio-sim for Debian kernels that do not ship it, as Debian 12's does not.
const gpioSimCache = "/var/cache/guichet/qemu"

// TestKernel runs the tests of guest_test.go against a real kernel: it
// builds them into a static test binary, boots Debian's kernel under qemu
// with that binary, configfs and gpio-sim, and fails unless every guest
// test passes.
func TestKernel(t *testing.T) {
	g, kver := kernelGuest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := qemutest.Run(ctx, g)
	t.Logf("guest console:\n%s", res.Console)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel %s: boot to marker %v, whole run %v", kver, res.Boot.Round(time.Millisecond), res.Total.Round(time.Millisecond))
	if res.ExitStatus != 0 {
		t.Fatalf("guest tests failed with status %d", res.ExitStatus)
	}
	// Guard against a binary that ran no test at all.
	for _, name := range []string{"TestGuestOutputs", "TestGuestPulse", "TestGuestTamper", "TestGuestErrors", "TestGuestInputConfig"} {
		if !regexp.MustCompile(`--- PASS: ` + name + ` `).MatchString(res.Console) {
			t.Errorf("guest did not pass %s", name)
		}
	}
}

// BenchmarkKernel reports how long the kernel test's guest takes to boot
// (qemu start to the init's marker, gpio-sim loaded) and to run the guest
// tests, next to the boot of the same kernel with nothing loaded.
func BenchmarkKernel(b *testing.B) {
	g, _ := kernelGuest(b)
	bare := qemutest.Guest{Kernel: g.Kernel, Command: "true"}
	for i := 0; i < b.N; i++ {
		res, err := qemutest.Run(context.Background(), bare)
		if err != nil || res.ExitStatus != 0 {
			b.Fatalf("bare boot: %v, status %d", err, res.ExitStatus)
		}
		benchfig.Report(b, "qemu_boot_s_bare", res.Boot.Seconds(), "s")
		res, err = qemutest.Run(context.Background(), g)
		if err != nil || res.ExitStatus != 0 {
			b.Fatalf("gpio guest: %v, status %d\n%s", err, res.ExitStatus, res.Console)
		}
		benchfig.Report(b, "qemu_boot_s_gpio", res.Boot.Seconds(), "s")
		benchfig.Report(b, "qemu_total_s_gpio_tests", res.Total.Seconds(), "s")
	}
}

// kernelGuest builds the guest test binary and describes the guest that
// runs it.
func kernelGuest(t testing.TB) (qemutest.Guest, string) {
	t.Helper()
	if err := qemutest.Need(); err != nil {
		t.Fatal(err)
	}
	var kver, gpioSim, configfs string
	for _, v := range qemutest.Kernels() {
		sim, err := qemutest.FindModule(v, "gpio-sim", filepath.Join(gpioSimCache, v))
		if err != nil {
			continue
		}
		cfs, err := qemutest.FindModule(v, "configfs")
		if err != nil {
			continue
		}
		kver, gpioSim, configfs = v, sim, cfs
		break
	}
	if kver == "" {
		t.Fatalf("no kernel in /boot with configfs and gpio-sim modules: apt-get install %s linux-headers-amd64 linux-source-6.1, then make -f deploy/make/qemu.mk qemu-gpio-sim", qemutest.Packages)
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "cdev.test")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	build := exec.Command(gobin, "test", "-c", "-tags", "qemuguest", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the guest test binary: %v\n%s", err, out)
	}

	return qemutest.Guest{
		Kernel: "/boot/vmlinuz-" + kver,
		Files: []qemutest.File{
			{Guest: "/cdev.test", Host: bin},
			{Guest: "/modules/configfs.ko", Host: configfs},
			{Guest: "/modules/gpio-sim.ko", Host: gpioSim},
		},
		Modules: []string{"/modules/configfs.ko", "/modules/gpio-sim.ko"},
		Command: "/cdev.test -test.v -test.run '^TestGuest' -test.timeout 2m",
		Timeout: 3 * time.Minute,
	}, kver
}
