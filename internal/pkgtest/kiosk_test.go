package pkgtest

import (
	"bytes"
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// screens writes the kiosk's screenshot to docs/screens/kiosk-qemu.png
// (go test ./internal/pkgtest -run TestKiosk -screens).
var screens = flag.Bool("screens", false, "write the kiosk's screenshot to docs/screens")

// kiosk runs TestKiosk (make kiosk-test): Chromium under software
// emulation adds minutes to the package test's budget, so go test ./...
// leaves it out.
var kiosk = flag.Bool("kiosk", false, "run the kiosk's test (make kiosk-test)")

// headless is the drop-in that runs the kiosk's cage on wlroots' headless
// backend, as on a box without a display: no DRM device (wlroots falls
// back to its pixman renderer), no input, and no seat or tty to take.
const headless = `[Service]
Environment=WLR_BACKENDS=headless WLR_LIBINPUT_NO_DEVICES=1
PAMName=
TTYPath=
StandardInput=null
`

// TestKiosk installs the appliance and the kiosk, and shows that cage runs
// Chromium on the appliance's page as the kiosk's user, and comes back
// when killed, with a screenshot taken in the guest by grim.
func TestKiosk(t *testing.T) {
	if !*kiosk {
		t.Skip("the kiosk's test runs with -kiosk: make kiosk-test")
	}
	v := boot(t)
	_, old, _ := packages(t)
	var debs []string
	for _, d := range old {
		if b := filepath.Base(d); strings.HasPrefix(b, "guichet_") || strings.HasPrefix(b, "guichet-kiosk_") {
			debs = append(debs, "/io/"+filepath.Base(filepath.Dir(d))+"/"+b)
		}
	}
	// The guest has no GPU: Chromium draws in software (Debian's
	// chromium wrapper reads its flags from /etc/chromium.d).
	v.sh(`mkdir -p /etc/systemd/system/guichet-kiosk.service.d && cat > /etc/systemd/system/guichet-kiosk.service.d/headless.conf <<'EOF'
` + headless + `EOF
mkdir -p /etc/chromium.d && echo 'export CHROMIUM_FLAGS="$CHROMIUM_FLAGS --disable-gpu"' > /etc/chromium.d/pkgtest-no-gpu`)
	start := time.Now()
	v.sh("DEBIAN_FRONTEND=noninteractive dpkg -i " + strings.Join(debs, " ") + " && systemctl restart guichet-kiosk")
	v.waitActive("guichetd")
	v.waitActive("guichet-kiosk")
	shown := v.waitPage()
	t.Logf("kiosk showing the page %v after dpkg -i", time.Since(start).Round(time.Second))
	shot := v.screenshot()
	if *screens {
		out := filepath.Join(repoRoot(t), "docs", "screens", "kiosk-qemu.png")
		if err := os.WriteFile(out, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", out)
	}
	t.Logf("page: %s", shown)

	// The processes run as the kiosk's user, with a fresh profile.
	if out := v.sh(`u=$(id -u guichet-kiosk); ps -o uid= -C cage,chromium | sort -u | tr -d ' ' | grep -vx "$u" || true`); strings.TrimSpace(out) != "" {
		t.Errorf("kiosk processes run as users %q, not guichet-kiosk", out)
	}
	if out := v.sh("ps -o args= -C chromium | head -n1"); !strings.Contains(out, "--user-data-dir=/run/guichet-kiosk/") {
		t.Errorf("Chromium's profile is not in the kiosk's runtime directory: %s", out)
	}

	// Killed, it comes back.
	v.sh("systemctl kill -s KILL guichet-kiosk")
	v.sh(`for i in $(seq 300); do [ "$(systemctl show -P NRestarts guichet-kiosk)" -ge 1 ] && exit 0; sleep 0.2; done; exit 1`)
	v.waitActive("guichet-kiosk")
	v.waitPage()
}

// waitPage waits for a connection to the appliance's UI (127.0.0.1:8080),
// which only the kiosk's Chromium opens in the test (once the page is
// loaded it may be closed, in TIME-WAIT), and returns what ss says of it.
func (v *vm) waitPage() string {
	v.tb.Helper()
	out, status := v.try(`end=$(($(date +%s) + 180)); while [ $(date +%s) -lt $end ]; do
	c=$(ss -Htanp '( dport = :8080 )') && [ -n "$c" ] && { echo "$c"; exit 0; }
	sleep 1; done
ps -ef | grep -E 'cage|chrom' | grep -v grep; systemctl status --no-pager guichet-kiosk; journalctl -b --no-pager -u guichet-kiosk | tail -n 60; exit 1`)
	if status != 0 {
		v.tb.Fatalf("Chromium never connected to the appliance's UI:\n%s", out)
	}
	return strings.TrimSpace(out)
}

// screenshot takes the kiosk's screen with grim on cage's Wayland socket,
// waiting for the page to be drawn (more than a few colours), and returns
// the PNG.
func (v *vm) screenshot() []byte {
	v.tb.Helper()
	var last []byte
	for i := 0; i < 30; i++ {
		v.sh(`runuser -u guichet-kiosk -- env XDG_RUNTIME_DIR=/run/guichet-kiosk WAYLAND_DISPLAY=wayland-0 grim /run/guichet-kiosk/shot.png && cp /run/guichet-kiosk/shot.png /io/kiosk.png`)
		b, err := os.ReadFile(filepath.Join(v.share, "kiosk.png"))
		if err != nil {
			v.tb.Fatal(err)
		}
		last = b
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			v.tb.Fatalf("grim's screenshot: %v", err)
		}
		if colours(img) > 16 {
			return b
		}
		time.Sleep(2 * time.Second)
	}
	v.tb.Fatalf("the kiosk's screen stayed blank (%d bytes of PNG)", len(last))
	return nil
}

// colours counts the distinct colours of img, up to 1000.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}
