package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// deviceOnly are the modules only the appliance's devices need: camera
// (OpenCV), PC/SC, the GPIO and I2C stacks, and the device packages
// themselves (the code readers' ZXing decoder is C++ behind cgo there).
// The reference platform runs on any server, so it must link none of them.
// The pure-Go QR encoder (internal/qr, over gozxing) is allowed:
// enrol-code draws the enrolment code's QR code with it.
var deviceOnly = []string{"gocv", "scard", "gpiocdev", "periph", "github.com/guichet/guichet/device/"}

// TestPlatformLinksNoDeviceCode keeps guichet-platform pure Go: a new
// import that drags the appliance's device packages in fails here rather
// than on a server without OpenCV.
func TestPlatformLinksNoDeviceCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, bad := range deviceOnly {
			if strings.Contains(pkg, bad) {
				t.Errorf("guichet-platform depends on %s", pkg)
			}
		}
	}
}

// TestPlatformBuildsWithoutCgo builds guichet-platform with CGO_ENABLED=0,
// as a static binary for a server is built.
func TestPlatformBuildsWithoutCgo(t *testing.T) {
	cmd := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "guichet-platform"), ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
}
