package ui

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTechnicianTokenKept(t *testing.T) {
	dir := t.TempDir()
	tok, err := LoadTechnicianToken(dir)
	if err != nil || len(tok) != 64 {
		t.Fatalf("token %q %v", tok, err)
	}
	fi, err := os.Stat(filepath.Join(dir, TechnicianTokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %v %v", fi, err)
	}
	again, err := LoadTechnicianToken(dir)
	if err != nil || again != tok {
		t.Fatalf("second start: %q %v, want %q", again, err, tok)
	}
	// A token too short to be one is replaced.
	os.WriteFile(filepath.Join(dir, TechnicianTokenFile), []byte("short\n"), 0o600)
	if n, err := LoadTechnicianToken(dir); err != nil || n == tok || len(n) != 64 {
		t.Fatalf("replaced token %q %v", n, err)
	}
}
