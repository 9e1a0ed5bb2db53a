package tpmtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Two TPMs are two: their own ports and state; a restart keeps both.
// (provision/identity's tests show the seeds survive a restart: the same
// key loads again.)
func TestStartRestart(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr == b.Addr || a.Dir == b.Dir {
		t.Fatalf("two TPMs share %s / %s", a.Addr, a.Dir)
	}
	permall := func(p *TPM) []byte {
		data, err := os.ReadFile(filepath.Join(p.Dir, "tpm2-00.permall"))
		if err != nil || len(data) == 0 {
			t.Fatalf("no permanent state in %s: %v", p.Dir, err)
		}
		return data
	}
	if string(permall(a)) == string(permall(b)) {
		t.Fatal("two TPMs have the same permanent state")
	}
	addr := a.Addr
	a.Restart()
	if err := a.ping(); a.Addr != addr || err != nil {
		t.Fatalf("after restart: %s, ping %v", a.Addr, err)
	}
	permall(a)
}
