package outbox_test

import (
	"bytes"
	"crypto/ed25519"

	"github.com/guichet/guichet/sync/outbox"
)

// release1Identity is the identity testdata/release-1.db was written with.
func release1Identity() outbox.Identity {
	return outbox.Identity{Tenant: "t1", Device: "d1", Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))}
}
