package icao

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStandsAlone checks that the protocol libraries, eid/icao with its
// subpackages and the SAM protocol of firmware-bridge, import nothing of
// the appliance's device packages: drivers convert between their types
// and the flows', never the other way round.
func TestStandsAlone(t *testing.T) {
	const module = "github.com/guichet/guichet/"
	pkgs := []string{module + "eid/icao/...", module + "firmware-bridge/..."}
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}|{{.Dir}}|{{join .GoFiles \",\"}}"}, pkgs...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 10 {
		t.Fatalf("go list named %d packages; the walk is broken", len(lines))
	}
	for _, l := range lines {
		f := strings.SplitN(l, "|", 3)
		if len(f) != 3 {
			t.Fatalf("go list line %q", l)
		}
		p := f[0]
		if !strings.HasPrefix(p, module) {
			continue
		}
		// go list runs outside this process, so go test's cache does
		// not see what it read: stat the module's files here, so that
		// an edited import runs the test again.
		for _, name := range strings.Split(f[2], ",") {
			if name != "" {
				os.Stat(filepath.Join(f[1], name))
			}
		}
		if p == module+"device" || strings.HasPrefix(p, module+"device/") {
			t.Errorf("a protocol library depends on %s", p)
		}
	}
}
