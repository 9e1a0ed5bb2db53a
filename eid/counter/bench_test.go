package counter

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/sync/outbox"
)

// BenchmarkPINCheck reports the time of one PIN check at the default work
// factor (what the official waits, and what an attacker with the store
// pays per guess on this CPU), next to one SHA-256 of the same PIN.
func BenchmarkPINCheck(b *testing.B) {
	ctx := context.Background()
	_, k, _ := ed25519.GenerateKey(nil)
	s, err := outbox.Open(filepath.Join(b.TempDir(), "outbox.db"), outbox.Identity{Tenant: "t1", Device: "d1", Key: k})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	offs := &Officials{Store: s}
	if err := offs.SetPIN(ctx, "off-1", "482913"); err != nil {
		b.Fatal(err)
	}
	benchfig.Report(b, "pin_check_ms", benchfig.MedianMs(5, func() {
		if err := offs.Check(ctx, "off-1", "482913"); err != nil {
			b.Fatal(err)
		}
	}), "ms")
	benchfig.Report(b, "sha256_pin_ms", benchfig.MedianMs(101, func() { sha256.Sum256([]byte("482913")) }), "ms")
}
