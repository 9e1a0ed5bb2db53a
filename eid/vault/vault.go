// Package vault keeps the personal data read from an ID card (names,
// numbers, address) while an activation waits for the platform, and only
// encrypted: AES-256-GCM (NIST SP 800-38D) with the record id as additional
// data, so a blob moved to another record does not open.
//
// Every record has its own random 256-bit key, stored in the record's file
// wrapped (AES-256-GCM again) under the device data key. The device data
// key is 32 random bytes in the file "data.key" of the vault's folder,
// created on first use with mode 0600; Open refuses a key file that group
// or others may read. Delete overwrites the record's file before removing
// it, so the wrapped key and the data go together: once the platform has
// acknowledged an activation, its personal data cannot be recovered even
// with the device data key (on storage that overwrites in place; flash
// translation layers may keep old pages, which is why the data is never
// written in clear in the first place).
//
// Face images and templates never come here: they stay in memory in
// package face.
package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/guichet/guichet/internal/atomicfile"
)

// KeyFile is the name of the device data key file in the vault's folder.
const KeyFile = "data.key"

// Blob layout, version 1:
//
//	"GV" | version (1) | id length (1) | id | wrap nonce (12) |
//	wrapped key (32 + 16 tag) | data nonce (12) | ciphertext + tag (16)
const (
	magic      = "GV"
	version    = 1
	keySize    = 32
	nonceSize  = 12
	tagSize    = 16
	wrappedLen = keySize + tagSize
	// MaxData bounds the plaintext of one record: a card's text fields
	// are a few hundred bytes.
	MaxData = 64 << 10
	// MaxID bounds a record id.
	MaxID = 128
)

// Errors.
var (
	ErrNotFound = errors.New("vault: no such record")
	ErrBlob     = errors.New("vault: malformed blob")
	ErrOpen     = errors.New("vault: blob does not open: wrong key, wrong record or tampered")
	ErrID       = errors.New("vault: bad record id")
)

// Vault is an open vault folder. Its methods are safe for concurrent use.
type Vault struct {
	dir  string
	mu   sync.Mutex
	aead cipher.AEAD // under the device data key
}

// Open opens the vault in dir, creating the folder (0700) and the device
// data key (0600) if needed.
func Open(dir string) (*Vault, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	key, err := loadKey(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, err
	}
	a, err := newAEAD(key)
	clear(key)
	if err != nil {
		return nil, err
	}
	return &Vault{dir: dir, aead: a}, nil
}

func loadKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		key := make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("vault: key: %w", err)
		}
		if err := atomicfile.Create(path, key, 0o600); err != nil {
			clear(key)
			return nil, fmt.Errorf("vault: key: %w", err)
		}
		return key, nil
	case err != nil:
		return nil, fmt.Errorf("vault: key: %w", err)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("vault: key file %s has mode %v: it must be 0600", path, fi.Mode().Perm())
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vault: key: %w", err)
	}
	if len(key) != keySize {
		clear(key)
		return nil, fmt.Errorf("vault: key file %s: %d bytes, want %d", path, len(key), keySize)
	}
	return key, nil
}

// overwrite writes b over the start of the existing file at path and syncs
// it: Delete's zeroing, which must hit the record's own blocks, so it is
// not an atomic replacement.
func overwrite(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return cipher.NewGCM(b)
}

func validID(id string) bool {
	if id == "" || len(id) > MaxID {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok || id == "." || id == ".." {
			return false
		}
	}
	return true
}

func (v *Vault) path(id string) string { return filepath.Join(v.dir, id+".gv") }

// Put stores data encrypted as record id, replacing any earlier value.
func (v *Vault) Put(id string, data []byte) error {
	blob, err := v.Seal(id, data)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := atomicfile.Write(v.path(id), blob, 0o600); err != nil {
		return fmt.Errorf("vault: put: %w", err)
	}
	return nil
}

// Get returns the plaintext of record id.
func (v *Vault) Get(id string) ([]byte, error) {
	if !validID(id) {
		return nil, ErrID
	}
	v.mu.Lock()
	blob, err := os.ReadFile(v.path(id))
	v.mu.Unlock()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("vault: get: %w", err)
	}
	return v.OpenBlob(id, blob)
}

// Delete destroys record id: its file, and with it the record's key, is
// overwritten with zeros, synced and removed. Deleting a missing record is
// not an error.
func (v *Vault) Delete(id string) error {
	if !validID(id) {
		return ErrID
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	p := v.path(id)
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("vault: delete: %w", err)
	}
	if err := overwrite(p, make([]byte, fi.Size())); err != nil {
		return fmt.Errorf("vault: delete: %w", err)
	}
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("vault: delete: %w", err)
	}
	if err := atomicfile.SyncDir(v.dir); err != nil {
		return fmt.Errorf("vault: delete: %w", err)
	}
	return nil
}

// IDs lists the records held, for a sweep at start-up.
func (v *Vault) IDs() ([]string, error) {
	ents, err := os.ReadDir(v.dir)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if n, ok := bytes.CutSuffix([]byte(e.Name()), []byte(".gv")); ok && e.Type().IsRegular() {
			ids = append(ids, string(n))
		}
	}
	return ids, nil
}

// Seal encrypts data for record id under a fresh record key and returns
// the blob.
func (v *Vault) Seal(id string, data []byte) ([]byte, error) {
	if !validID(id) {
		return nil, ErrID
	}
	if len(data) > MaxData {
		return nil, fmt.Errorf("vault: %d bytes of data, more than %d", len(data), MaxData)
	}
	rk := make([]byte, keySize)
	defer clear(rk)
	if _, err := rand.Read(rk); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	ra, err := newAEAD(rk)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 4+len(id)+2*nonceSize+wrappedLen+len(data)+tagSize)
	out = append(out, magic...)
	out = append(out, version, byte(len(id)))
	out = append(out, id...)
	hdr := len(out)
	nonces := make([]byte, 2*nonceSize)
	if _, err := rand.Read(nonces); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	out = append(out, nonces[:nonceSize]...)
	out = v.aead.Seal(out, nonces[:nonceSize], rk, wrapAD(out[:hdr]))
	out = append(out, nonces[nonceSize:]...)
	out = ra.Seal(out, nonces[nonceSize:], data, dataAD(out[:hdr]))
	return out, nil
}

// The header (magic, version, id) is bound to both the wrapped key and the
// data, with a label so that one cannot stand for the other.
func wrapAD(hdr []byte) []byte { return append([]byte("key\x00"), hdr...) }
func dataAD(hdr []byte) []byte { return append([]byte("data\x00"), hdr...) }

// Blob is a parsed blob, before decryption.
type Blob struct {
	ID         string
	WrapNonce  []byte
	WrappedKey []byte
	DataNonce  []byte
	Ciphertext []byte
	header     []byte
}

// ParseBlob checks the layout of a blob without decrypting it.
func ParseBlob(b []byte) (*Blob, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrBlob, len(b))
	}
	if string(b[:2]) != magic {
		return nil, fmt.Errorf("%w: not a vault blob", ErrBlob)
	}
	if b[2] != version {
		return nil, fmt.Errorf("%w: version %d", ErrBlob, b[2])
	}
	n := int(b[3])
	hdr := 4 + n
	min := hdr + nonceSize + wrappedLen + nonceSize + tagSize
	if len(b) < min {
		return nil, fmt.Errorf("%w: truncated (%d bytes, at least %d)", ErrBlob, len(b), min)
	}
	if len(b)-min > MaxData {
		return nil, fmt.Errorf("%w: %d bytes of data, more than %d", ErrBlob, len(b)-min, MaxData)
	}
	id := string(b[4:hdr])
	if !validID(id) {
		return nil, fmt.Errorf("%w: bad record id", ErrBlob)
	}
	p := hdr
	bl := &Blob{ID: id, header: b[:hdr]}
	bl.WrapNonce, p = b[p:p+nonceSize], p+nonceSize
	bl.WrappedKey, p = b[p:p+wrappedLen], p+wrappedLen
	bl.DataNonce, p = b[p:p+nonceSize], p+nonceSize
	bl.Ciphertext = b[p:]
	return bl, nil
}

// OpenBlob decrypts a blob of record id.
func (v *Vault) OpenBlob(id string, blob []byte) ([]byte, error) {
	bl, err := ParseBlob(blob)
	if err != nil {
		return nil, err
	}
	if bl.ID != id {
		return nil, fmt.Errorf("%w: blob of another record", ErrOpen)
	}
	rk, err := v.aead.Open(nil, bl.WrapNonce, bl.WrappedKey, wrapAD(bl.header))
	if err != nil {
		return nil, ErrOpen
	}
	defer clear(rk)
	ra, err := newAEAD(rk)
	if err != nil {
		return nil, err
	}
	data, err := ra.Open(nil, bl.DataNonce, bl.Ciphertext, dataAD(bl.header))
	if err != nil {
		return nil, ErrOpen
	}
	return data, nil
}
