package pkgbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var units = []string{"guichetd.service", "guichet-platform.service", "guichet-kiosk.service"}

// verifyRoot is a root directory holding Debian's units, guichet's, and
// stand-ins for the programs they run, for systemd-analyze verify.
func verifyRoot(t testing.TB) string {
	t.Helper()
	r := t.TempDir()
	sys := filepath.Join(r, "lib", "systemd", "system")
	if err := os.MkdirAll(filepath.Dir(sys), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", "/lib/systemd/system/.", sys).CombinedOutput(); err != nil {
		t.Fatalf("copying Debian's units: %v\n%s", err, out)
	}
	for _, u := range units {
		b, err := os.ReadFile(filepath.Join(root2(t), "deploy", "systemd", u))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(sys, u), b, 0o644)
	}
	for _, p := range []string{"usr/bin/guichetd", "usr/bin/guichet-platform", "usr/bin/cage", "usr/bin/chromium", "bin/rm"} {
		os.MkdirAll(filepath.Join(r, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(r, p), []byte("#!/bin/sh\n"), 0o755)
	}
	return r
}

func root2(t testing.TB) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestUnitsVerify: systemd parses each unit without a warning (an
// unknown or misspelt directive, a bad value, a missing dependency).
func TestUnitsVerify(t *testing.T) {
	r := verifyRoot(t)
	for _, u := range units {
		out, err := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+r, "/lib/systemd/system/"+u).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("%s: %v\n%s", u, err, out)
		}
	}
	// The check can fail: a misspelt directive is reported.
	bad := filepath.Join(r, "lib", "systemd", "system", "bad.service")
	os.WriteFile(bad, []byte("[Service]\nExecStart=/usr/bin/guichetd\nProtectSytem=strict\n"), 0o644)
	if out, _ := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+r, "/lib/systemd/system/bad.service").CombinedOutput(); !strings.Contains(string(out), "ProtectSytem") {
		t.Errorf("a misspelt directive passed: %s", out)
	}
}

// directives reads a unit's KEY=VALUE lines of [Service] (a key given
// more than once keeps every value).
func directives(t *testing.T, unit string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root2(t), "deploy", "systemd", unit))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	section := ""
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[") {
			section = l
			continue
		}
		if section != "[Service]" || l == "" || l[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		m[k] = append(m[k], v)
	}
	return m
}

// TestUnitsHardened: the directives issue 13 asks of every unit.
func TestUnitsHardened(t *testing.T) {
	for _, u := range units {
		d := directives(t, u)
		want := map[string]string{
			"User": "", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
			"CapabilityBoundingSet": "", "SystemCallFilter": "@system-service", "ProtectKernelTunables": "yes",
			"ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "RestrictAddressFamilies": "",
		}
		for k, v := range want {
			vals, ok := d[k]
			if !ok {
				t.Errorf("%s: no %s=", u, k)
				continue
			}
			if v != "" && vals[0] != v {
				t.Errorf("%s: %s=%s, want %s", u, k, vals[0], v)
			}
		}
		if d["User"][0] == "root" || d["User"][0] == "" {
			t.Errorf("%s runs as %q", u, d["User"][0])
		}
		if d["CapabilityBoundingSet"][0] != "" {
			t.Errorf("%s: CapabilityBoundingSet=%s, want empty", u, d["CapabilityBoundingSet"][0])
		}
	}
	for _, u := range units[:2] {
		d := directives(t, u)
		if d["Type"][0] != "notify" || d["Restart"][0] != "on-failure" || len(d["WatchdogSec"]) == 0 {
			t.Errorf("%s: Type=%v Restart=%v WatchdogSec=%v", u, d["Type"], d["Restart"], d["WatchdogSec"])
		}
	}
	// guichetd drives devices: a closed device policy listing them.
	d := directives(t, "guichetd.service")
	if d["DevicePolicy"][0] != "closed" {
		t.Errorf("guichetd: DevicePolicy=%v", d["DevicePolicy"])
	}
	allowed := strings.Join(d["DeviceAllow"], " ")
	for _, dev := range []string{"char-video4linux", "char-ttyUSB", "char-gpiochip", "char-spidev", "char-i2c", "char-usbmisc", "char-tpmrm"} {
		if !strings.Contains(allowed, dev+" ") {
			t.Errorf("guichetd: DeviceAllow lacks %s", dev)
		}
	}
	// Every supplementary group is created by sysusers.d or is Debian's.
	sysusers, _ := os.ReadFile(filepath.Join(root2(t), "deploy", "package", "sysusers", "guichet.conf"))
	for _, g := range strings.Fields(d["SupplementaryGroups"][0]) {
		if !regexp.MustCompile(`(?m)^g `+g+` `).Match(sysusers) && !debianGroup(g) {
			t.Errorf("guichetd: group %s is neither Debian's nor made by sysusers.d", g)
		}
	}
	k := directives(t, "guichet-kiosk.service")
	start := strings.Join(k["ExecStart"], " ")
	for _, w := range []string{"cage ", "chromium --kiosk", "--ozone-platform=wayland", "--user-data-dir=/run/guichet-kiosk/", "--noerrdialogs", "--disable-crash-reporter", "http://127.0.0.1:8080/"} {
		if !strings.Contains(start, w) {
			t.Errorf("kiosk ExecStart lacks %q: %s", w, start)
		}
	}
	// The browser reaches the loopback only.
	if strings.Join(k["IPAddressDeny"], " ") != "any" || strings.Join(k["IPAddressAllow"], " ") != "localhost" {
		t.Errorf("kiosk: IPAddressDeny=%v IPAddressAllow=%v, want any and localhost", k["IPAddressDeny"], k["IPAddressAllow"])
	}
	if k["Restart"][0] != "always" || k["RuntimeDirectory"][0] != "guichet-kiosk" {
		t.Errorf("kiosk: Restart=%v RuntimeDirectory=%v", k["Restart"], k["RuntimeDirectory"])
	}
}

// debianGroup reports whether a stock Debian 12 has the group (base-passwd).
func debianGroup(g string) bool {
	switch g {
	case "video", "dialout", "lp", "input", "render", "audio", "plugdev":
		return true
	}
	return false
}

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// Exposure is systemd-analyze security's overall exposure of a unit file
// (0 is best, 10 worst), without a running systemd.
func exposure(tb testing.TB, path string) float64 {
	tb.Helper()
	out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--no-pager", path).CombinedOutput()
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		tb.Fatalf("systemd-analyze security %s: %v\n%s", path, err, out)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestExposureParsed(t *testing.T) {
	for _, u := range units {
		if e := exposure(t, filepath.Join(root2(t), "deploy", "systemd", u)); e <= 0 || e >= 10 {
			t.Errorf("%s: exposure %v", u, e)
		}
	}
}
