package provision

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/guichet/guichet/provision/identity"
)

// memKey is an identity key held in memory, as a file key would be.
type memKey struct {
	*ecdsa.PrivateKey
	kind identity.Kind
}

func (k memKey) Kind() identity.Kind { return k.kind }

func newKey(t testing.TB) memKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return memKey{k, identity.KindFile}
}

func recordKey(t testing.TB) ed25519.PublicKey {
	pk, _, _ := ed25519.GenerateKey(nil)
	return pk
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
