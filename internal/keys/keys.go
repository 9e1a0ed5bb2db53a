// Package keys loads and creates the Ed25519 keys that sign records (the
// device key) and acks and commands (the platform key).
//
// A private key file holds the 32-byte seed in base64 on one line, mode
// 0600; its public key is written beside it as FILE.pub, also base64, so a
// technician can copy it for enrolment.
package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/guichet/guichet/internal/atomicfile"
)

// LoadOrCreate reads the private key at path, creating it (and path.pub)
// if there is none.
func LoadOrCreate(path string) (ed25519.PrivateKey, error) {
	k, err := Load(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	_, k, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := atomicfile.Write(path, []byte(base64.StdEncoding.EncodeToString(k.Seed())+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := atomicfile.Write(path+".pub", []byte(EncodePublic(k.Public().(ed25519.PublicKey))+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return k, nil
}

// Load reads the private key at path.
func Load(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("keys: %s: not a base64 Ed25519 seed", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// EncodePublic writes a public key as base64.
func EncodePublic(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }

// ParsePublic reads a base64 public key.
func ParsePublic(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("keys: not a base64 Ed25519 public key")
	}
	return ed25519.PublicKey(b), nil
}

// LoadPublic reads a base64 public key from a file.
func LoadPublic(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	k, err := ParsePublic(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}
