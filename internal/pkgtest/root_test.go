package pkgtest

import (
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestParseDepends(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"libc6 (>= 2.34), systemd", []string{"libc6", "systemd"}},
		{" libopencv-core406 (>= 4.6.0+dfsg), default-mta | mail-transport-agent , python3:any (>= 3.9~)", []string{"libopencv-core406", "default-mta", "python3"}},
		{"a [amd64], b <!nocheck>", []string{"a", "b"}},
	} {
		if got := parseDepends(c.in); !slices.Equal(got, c.want) {
			t.Errorf("parseDepends(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRootKey(t *testing.T) {
	a := Root{Mirror: DefaultMirror, Suite: DefaultSuite, Packages: []string{"b", "a", "a"}}
	b := Root{Mirror: DefaultMirror, Suite: DefaultSuite, Packages: []string{"a", "b"}}
	if a.Key() != b.Key() {
		t.Error("the key depends on the packages' order or repeats")
	}
	c := Root{Mirror: DefaultMirror, Suite: DefaultSuite, Packages: []string{"a", "c"}}
	d := Root{Mirror: DefaultMirror, Suite: "trixie", Packages: []string{"a", "b"}}
	if a.Key() == c.Key() || a.Key() == d.Key() {
		t.Error("different roots share a key")
	}
}

func TestDependsOfPackages(t *testing.T) {
	_, old, _ := packages(t)
	r, err := ForDebs(old...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %v", r.Key(), r.Packages)
	for _, p := range []string{"systemd", "libopencv-core406", "cage", "chromium", "mosquitto"} {
		if !slices.Contains(r.Packages, p) {
			t.Errorf("root lacks %s: %v", p, r.Packages)
		}
	}
	if slices.Contains(r.Packages, "guichet") {
		t.Errorf("root has the package under test: %v", r.Packages)
	}
}

// TestRootImage builds the root the package tests boot, if it is not in
// the cache yet (make package-root), and checks it is an ext4 image.
func TestRootImage(t *testing.T) {
	_, old, new := packages(t)
	r, err := ForDebs(append(old, new...)...)
	if err != nil {
		t.Fatal(err)
	}
	img, err := r.Image(context.Background(), DefaultCache(), testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dumpe2fs", "-h", img).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "guichet-root") {
		t.Fatalf("%s is not the root's ext4 image: %v\n%s", img, err, out)
	}
	t.Logf("root %s", img)
}
