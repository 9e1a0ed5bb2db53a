package icao

import (
	"os/exec"
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
	out, err := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, pkgs...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list named %d packages; the walk is broken", len(deps))
	}
	for _, p := range deps {
		if p == module+"device" || strings.HasPrefix(p, module+"device/") {
			t.Errorf("a protocol library depends on %s", p)
		}
	}
}
