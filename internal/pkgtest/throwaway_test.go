package pkgtest

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A stand-in for the packages of internal/pkgbuild until that lands on
// this branch: the same names, files and dependencies, made with
// dpkg-deb --build from the programs the test builds.

const throwawayUnit = `[Unit]
Description=guichet appliance daemon
After=network-online.target mosquitto.service
[Service]
ExecStart=/usr/bin/guichetd --config /etc/guichet/guichetd.yaml
User=guichet
StateDirectory=guichet
StateDirectoryMode=0700
RuntimeDirectory=guichet
Restart=on-failure
[Install]
WantedBy=multi-user.target
`

const throwawayPlatformUnit = `[Unit]
Description=guichet reference platform
After=network-online.target mosquitto.service
[Service]
ExecStart=/usr/bin/guichet-platform --config /etc/guichet/platform.yaml run
User=guichet-platform
StateDirectory=guichet-platform
Restart=on-failure
[Install]
WantedBy=multi-user.target
`

const throwawayKioskUnit = `[Unit]
Description=guichet kiosk
After=guichetd.service
[Service]
User=guichet-kiosk
RuntimeDirectory=guichet-kiosk
RuntimeDirectoryMode=0700
Environment=XDG_RUNTIME_DIR=/run/guichet-kiosk HOME=/run/guichet-kiosk
ExecStartPre=/bin/rm -rf /run/guichet-kiosk/profile
ExecStart=/usr/bin/cage -d -- /usr/bin/chromium --kiosk --ozone-platform=wayland --user-data-dir=/run/guichet-kiosk/profile --no-first-run --noerrdialogs --disable-session-crashed-bubble http://127.0.0.1:8080/
Restart=always
RestartSec=2
[Install]
WantedBy=graphical.target
`

func throwawayPostinst(name, user, unit string) string {
	return fmt.Sprintf(`#!/bin/sh
set -e
if [ "$1" = configure ]; then
	systemd-sysusers /usr/lib/sysusers.d/%[1]s.conf
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/%[1]s.conf
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload
		systemctl enable %[3]s
		systemctl restart %[3]s || true
	fi
fi
`, name, user, unit)
}

func throwawayPostrm(state string) string {
	return fmt.Sprintf(`#!/bin/sh
set -e
if [ "$1" = purge ]; then rm -rf %s; [ -d /etc/guichet ] && rmdir --ignore-fail-on-non-empty /etc/guichet; fi
[ -d /run/systemd/system ] && systemctl daemon-reload || true
`, state)
}

func throwawayPrerm(unit string) string {
	return fmt.Sprintf("#!/bin/sh\nset -e\n[ -d /run/systemd/system ] && systemctl stop %[1]s && systemctl disable %[1]s || true\n", unit)
}

var throwawayOpenCV = regexp.MustCompile(`^libopencv_([a-z0-9_]+)\.so\.(\d+)$`)

// throwawayDepends maps DT_NEEDED to Debian 12's packages as pkgbuild does.
func throwawayDepends(t testing.TB, bins ...string) []string {
	known := map[string]string{"libc.so.6": "libc6", "libm.so.6": "libc6", "libstdc++.so.6": "libstdc++6", "libgcc_s.so.1": "libgcc-s1",
		"libpcsclite.so.1": "libpcsclite1", "libZXing.so.2": "libzxing2"}
	var deps []string
	for _, b := range bins {
		f, err := elf.Open(b)
		if err != nil {
			t.Fatal(err)
		}
		libs, _ := f.ImportedLibraries()
		f.Close()
		for _, l := range libs {
			if p, ok := known[l]; ok {
				deps = append(deps, p)
			} else if m := throwawayOpenCV.FindStringSubmatch(l); m != nil {
				mod := strings.ReplaceAll(m[1], "_", "-")
				if mod == "wechat-qrcode" {
					mod = "contrib"
				}
				deps = append(deps, "libopencv-"+mod+m[2])
			} else {
				t.Fatalf("%s: unknown library %s", b, l)
			}
		}
	}
	slices.Sort(deps)
	return append(slices.Compact(deps), "systemd")
}

// throwawayPackages builds guichet and guichet-platform VERSION for amd64
// from the programs in bin into out, and returns their paths.
func throwawayPackages(t testing.TB, bin, version, out string) []string {
	t.Helper()
	type pkg struct {
		name, arch, desc string
		depends          []string
		files            map[string]string // guest path -> content ("@path" copies a file)
		conf             []string
	}
	pkgs := []pkg{{
		name: "guichet", arch: "amd64", desc: "guichet appliance (test build)",
		depends: throwawayDepends(t, filepath.Join(bin, "guichetd"), filepath.Join(bin, "guichet")),
		files: map[string]string{
			"usr/bin/guichetd": "@" + filepath.Join(bin, "guichetd"), "usr/bin/guichet": "@" + filepath.Join(bin, "guichet"),
			"lib/systemd/system/guichetd.service": throwawayUnit,
			"usr/lib/sysusers.d/guichet.conf":     "g guichet -\nu guichet - \"guichet\" /var/lib/guichet /usr/sbin/nologin\n",
			"usr/lib/tmpfiles.d/guichet.conf":     "d /var/lib/guichet 0700 guichet guichet -\nd /etc/guichet 0755 root root -\n",
			"etc/guichet/guichetd.yaml":           "device: {id: till-1}\nstate_dir: /var/lib/guichet\nbroker: {urls: [\"tcp://127.0.0.1:1883\"]}\nplatform_key: \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\nhardware: sim\nui: {socket: /run/guichet/api.sock}\n",
			"DEBIAN/postinst":                     throwawayPostinst("guichet", "guichet", "guichetd.service"),
			"DEBIAN/prerm":                        throwawayPrerm("guichetd.service"),
			"DEBIAN/postrm":                       throwawayPostrm("/var/lib/guichet /run/guichet"),
		},
		conf: []string{"/etc/guichet/guichetd.yaml"},
	}, {
		name: "guichet-platform", arch: "amd64", desc: "guichet reference platform (test build)",
		depends: []string{"systemd"},
		files: map[string]string{
			"usr/bin/guichet-platform":                    "@" + filepath.Join(bin, "guichet-platform"),
			"lib/systemd/system/guichet-platform.service": throwawayPlatformUnit,
			"usr/lib/sysusers.d/guichet-platform.conf":    "u guichet-platform - \"guichet platform\" /var/lib/guichet-platform /usr/sbin/nologin\n",
			"usr/lib/tmpfiles.d/guichet-platform.conf":    "d /var/lib/guichet-platform 0700 guichet-platform guichet-platform -\n",
			"etc/guichet/platform.yaml":                   "instance: p1\nstore: /var/lib/guichet-platform/platform.db\nkey_file: /var/lib/guichet-platform/platform.key\nbroker: {urls: [\"tcp://127.0.0.1:1883\"]}\n",
			"DEBIAN/postinst":                             throwawayPostinst("guichet-platform", "guichet-platform", "guichet-platform.service"),
			"DEBIAN/prerm":                                throwawayPrerm("guichet-platform.service"),
			"DEBIAN/postrm":                               throwawayPostrm("/var/lib/guichet-platform"),
		},
		conf: []string{"/etc/guichet/platform.yaml"},
	}, {
		name: "guichet-kiosk", arch: "all", desc: "guichet kiosk (test build)",
		depends: []string{"cage", "chromium", "xwayland", "systemd"},
		files: map[string]string{
			"lib/systemd/system/guichet-kiosk.service":         throwawayKioskUnit,
			"usr/lib/sysusers.d/guichet-kiosk.conf":            "u guichet-kiosk - \"guichet kiosk\" /run/guichet-kiosk /usr/sbin/nologin\n",
			"etc/chromium/policies/managed/guichet-kiosk.json": `{"URLBlocklist": ["*"], "URLAllowlist": ["http://127.0.0.1:8080"]}` + "\n",
			"DEBIAN/postinst": strings.Replace(throwawayPostinst("guichet-kiosk", "guichet-kiosk", "guichet-kiosk.service"),
				"\tsystemd-tmpfiles --create /usr/lib/tmpfiles.d/guichet-kiosk.conf\n", "", 1),
			"DEBIAN/prerm":  throwawayPrerm("guichet-kiosk.service"),
			"DEBIAN/postrm": throwawayPostrm("/run/guichet-kiosk"),
		},
		conf: []string{"/etc/chromium/policies/managed/guichet-kiosk.json"},
	}}
	var paths []string
	for _, p := range pkgs {
		dir := filepath.Join(t.TempDir(), p.name)
		for rel, c := range p.files {
			dst := filepath.Join(dir, rel)
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			mode := os.FileMode(0o644)
			data := []byte(c)
			if strings.HasPrefix(c, "@") {
				b, err := os.ReadFile(c[1:])
				if err != nil {
					t.Fatal(err)
				}
				data, mode = b, 0o755
			}
			if strings.HasPrefix(rel, "DEBIAN/") {
				mode = 0o755
			}
			if err := os.WriteFile(dst, data, mode); err != nil {
				t.Fatal(err)
			}
		}
		control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: guichet <dev@guichet.invalid>\nDepends: %s\nDescription: %s\n",
			p.name, version, p.arch, strings.Join(p.depends, ", "), p.desc)
		if err := os.MkdirAll(filepath.Join(dir, "DEBIAN"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "DEBIAN/control"), []byte(control), 0o644); err != nil {
			t.Fatal(err)
		}
		if len(p.conf) > 0 {
			if err := os.WriteFile(filepath.Join(dir, "DEBIAN/conffiles"), []byte(strings.Join(p.conf, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		deb := filepath.Join(out, fmt.Sprintf("%s_%s_%s.deb", p.name, version, p.arch))
		if b, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", dir, deb).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb %s: %v\n%s", p.name, err, b)
		}
		paths = append(paths, deb)
	}
	return paths
}
