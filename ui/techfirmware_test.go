package ui_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/firmware-bridge/dfu"
	"github.com/guichet/guichet/firmware-bridge/dfu/dfuemu"
	"github.com/guichet/guichet/firmware-bridge/manifest"
	"github.com/guichet/guichet/ui"
)

func fwKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

// fwRelease signs an image of size bytes for the emulator's class.
func fwRelease(t testing.TB, k ed25519.PrivateKey, v manifest.Version, counter uint32, size int) (mb, img []byte) {
	t.Helper()
	img = dfuemu.Image(size, v.String(), false)
	_, mb, err := manifest.New(k, "sam-v2", v, counter, img)
	if err != nil {
		t.Fatal(err)
	}
	return mb, img
}

// fwPeripheral is the emulated peripheral on a pseudo-terminal, factory
// image 1.0.0 at counter 2, paced to baud (0: as fast as the terminal).
func fwPeripheral(t testing.TB, baud int) (*dfuemu.Emulator, string) {
	t.Helper()
	emu, err := dfuemu.New(dfuemu.Config{Dir: t.TempDir(), Key: fwKey(1).Public().(ed25519.PublicKey), Class: "sam-v2", Baud: baud, TestWindow: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mb, img := fwRelease(t, fwKey(1), manifest.Version{Major: 1}, 2, 4000)
	if err := emu.Provision(mb, img); err != nil {
		t.Fatal(err)
	}
	p, err := emu.ServePTY(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return emu, p.Path
}

func newFirmware(t testing.TB, port, dir string) *ui.Firmware {
	f := &ui.Firmware{Peripherals: []ui.FirmwarePeripheral{{Name: "sam", Port: port}}, Dir: dir,
		Options: dfu.Options{Timeout: 300 * time.Millisecond, BootWait: 8 * time.Second, PollInterval: 20 * time.Millisecond}}
	t.Cleanup(f.Close)
	return f
}

// waitJob polls the job until it ends.
func waitJob(t *testing.T, r *techRig, cookie string) ui.FirmwareJob {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body, _ := r.call(t, "GET", "/api/tech/firmware/job", "", cookie)
		var j ui.FirmwareJob
		if code != 200 || json.Unmarshal([]byte(body), &j) != nil {
			t.Fatalf("job: %d %s", code, body)
		}
		if j.State != "running" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still running: %+v", j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTechFirmware installs a release on the emulated peripheral through
// the API (uploaded by the page), then is refused a downgrade and a
// release signed by another key, the installed firmware left as it is.
func TestTechFirmware(t *testing.T) {
	emu, port := fwPeripheral(t, 0)
	dir := t.TempDir()
	fw := newFirmware(t, port, dir)
	r := newTechRig(t, func(s *ui.Server) { s.Firmware = fw })
	tech := r.tech
	upload := func(mb, img []byte) string {
		b, _ := json.Marshal(map[string]any{"peripheral": "sam", "manifest": mb, "image": img})
		return string(b)
	}
	mb2, img2 := fwRelease(t, fwKey(1), manifest.Version{Major: 2, Minor: 1}, 3, 30000)
	for _, tc := range []struct {
		name, cookie, body string
		want               int
	}{
		{"no session", "", upload(mb2, img2), 401},
		{"a cashier", r.cashier, upload(mb2, img2), 403},
		{"unknown peripheral", tech, `{"peripheral":"printer","manifest":"` + base64.StdEncoding.EncodeToString(mb2) + `"}`, 400},
		{"not a manifest", tech, upload([]byte("GFWM nonsense"), img2), 400},
		{"image of another size", tech, upload(mb2, img2[:100]), 400},
		{"no such release", tech, `{"peripheral":"sam","release":"../etc/passwd"}`, 400},
	} {
		if code, body, _ := r.call(t, "POST", "/api/tech/firmware", tc.body, tc.cookie); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.want)
		}
	}
	code, body, _ := r.call(t, "GET", "/api/tech/firmware", "", tech)
	if code != 200 || !strings.Contains(body, `"name":"sam"`) || !strings.Contains(body, `"state":"idle"`) {
		t.Fatalf("firmware: %d %s", code, body)
	}
	if code, body, _ := r.call(t, "POST", "/api/tech/firmware", upload(mb2, img2), tech); code != 202 {
		t.Fatalf("start: %d %s", code, body)
	}
	j := waitJob(t, r, tech)
	if j.State != "done" || j.Sent != 30000 || j.Total != 30000 || j.Version != "2.1.0" || j.Phase != dfu.PhaseDone {
		t.Fatalf("job %+v", j)
	}
	if s := emu.State(); s.Version != (manifest.Version{Major: 2, Minor: 1}) || s.Testing || s.Counter != 3 {
		t.Fatalf("emulator after the update: %+v", s)
	}

	// A release picked in the firmware directory: a downgrade (counter 1).
	mbOld, imgOld := fwRelease(t, fwKey(1), manifest.Version{Major: 1, Minor: 5}, 1, 5000)
	os.WriteFile(filepath.Join(dir, "sam-1.5.0.bin"), imgOld, 0o644)
	os.WriteFile(filepath.Join(dir, "sam-1.5.0.bin.manifest"), mbOld, 0o644)
	if _, body, _ := r.call(t, "GET", "/api/tech/firmware", "", tech); !strings.Contains(body, `"releases":["sam-1.5.0.bin"]`) {
		t.Fatalf("releases: %s", body)
	}
	if code, body, _ := r.call(t, "POST", "/api/tech/firmware", `{"peripheral":"sam","release":"sam-1.5.0.bin"}`, tech); code != 202 {
		t.Fatalf("start the downgrade: %d %s", code, body)
	}
	if j := waitJob(t, r, tech); j.State != "failed" || j.Refusal != "downgrade" {
		t.Fatalf("downgrade: %+v", j)
	}
	// Signed by another key.
	mbX, imgX := fwRelease(t, fwKey(9), manifest.Version{Major: 3}, 4, 5000)
	if code, body, _ := r.call(t, "POST", "/api/tech/firmware", upload(mbX, imgX), tech); code != 202 {
		t.Fatalf("start: %d %s", code, body)
	}
	if j := waitJob(t, r, tech); j.State != "failed" || j.Refusal != "signature" || !strings.Contains(j.Error, "sign") {
		t.Fatalf("wrong key: %+v", j)
	}
	if s := emu.State(); s.Version != (manifest.Version{Major: 2, Minor: 1}) || s.Counter != 3 {
		t.Fatalf("emulator after the refusals: %+v", s)
	}
}

// TestTechFirmwareNone: without a peripheral that takes an update the
// page is told so, and the routes that start one are not there.
func TestTechFirmwareNone(t *testing.T) {
	r := newTechRig(t, nil)
	tech := r.tech
	code, body, _ := r.call(t, "GET", "/api/tech/firmware", "", tech)
	if code != 200 || !strings.Contains(body, `"peripherals":[]`) {
		t.Fatalf("%d %s", code, body)
	}
	if code, _, _ := r.call(t, "POST", "/api/tech/firmware", `{}`, tech); code != 405 && code != 404 {
		t.Fatalf("start without peripherals: %d", code)
	}
}
