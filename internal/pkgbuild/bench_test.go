package pkgbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/internal/benchfig"
)

// BenchmarkUnitExposure reports systemd-analyze security's exposure of
// each unit (lower is better; target under 2.0 for guichetd), next to a
// stock Debian unit's measured the same way (mosquitto's, installed by
// the Makefile) as the anchor.
func BenchmarkUnitExposure(b *testing.B) {
	for range b.N {
		for _, u := range units {
			name := "unit_exposure_" + strings.ReplaceAll(strings.TrimSuffix(u, ".service"), "-", "_")
			benchfig.Report(b, name, exposure(b, filepath.Join(root2(b), "deploy", "systemd", u)), "exposure")
		}
		benchfig.Report(b, "unit_exposure_anchor_debian_mosquitto", exposure(b, "/lib/systemd/system/mosquitto.service"), "exposure")
	}
}

// BenchmarkPackageSize builds the packages as `make package` does
// (stripped, trimmed programs; amd64 with cgo, the platform pure Go) and
// reports their sizes.
func BenchmarkPackageSize(b *testing.B) {
	bin := b.TempDir()
	build := func(arch, cgo string, pkgs ...string) {
		args := append([]string{"build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(bin, "linux_"+arch) + "/"}, pkgs...)
		cmd := exec.Command("go", args...)
		cmd.Dir = root2(b)
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED="+cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build %v: %v\n%s", pkgs, err, out)
		}
	}
	build("amd64", "1", "./cmd/guichetd", "./cmd/guichet")
	build("amd64", "0", "./cmd/guichet-platform")
	build("arm64", "0", "./cmd/guichet-platform")
	o := Options{Root: root2(b), Bin: bin, Version: "1.0.0"}
	out := b.TempDir()
	for range b.N {
		for _, arch := range []string{"amd64", "arm64", "all"} {
			pkgs, _, err := Packages(o, arch)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range pkgs {
				path, err := Build(p, out)
				if err != nil {
					b.Fatal(err)
				}
				fi, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				benchfig.Report(b, "package_size_"+strings.ReplaceAll(p.Info.Name, "-", "_")+"_"+arch, float64(fi.Size()), "bytes")
			}
		}
	}
}
