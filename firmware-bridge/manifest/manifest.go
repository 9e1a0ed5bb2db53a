// Package manifest encodes, decodes and verifies the signed manifest that
// travels ahead of every peripheral firmware image, after the image
// manifests of MCUboot (its TLV trailer) and SUIT (RFC 9124's sequence
// number and digest).
//
// A manifest is a fixed 140-byte record, little-endian like the
// microcontrollers that read it, so a bootloader can verify it without a
// parser:
//
//	off len field
//	  0   4 magic "GFWM"
//	  4   1 format, 1
//	  5   3 reserved, zero
//	  8  16 device class, ASCII [a-z0-9._-], zero-padded
//	 24   1 version major
//	 25   1 version minor
//	 26   2 version patch
//	 28   4 security counter
//	 32   4 image size in bytes
//	 36  32 SHA-256 of the image
//	 68   8 key id: the first 8 bytes of SHA-256 of the signing public key
//	 76  64 Ed25519 signature of bytes 0 to 75
//
// The key id only names the key, so that a refusal can say which one
// signed; trust comes from the signature checked against the key baked into
// the peripheral's bootloader, never from the manifest itself.
package manifest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Layout of the encoded manifest.
const (
	// Size is the length of an encoded manifest.
	Size = 140
	// SignedLen is the length of the signed part, before the signature.
	SignedLen = 76
	// Format is the only format this package writes and reads.
	Format = 1
	// MaxClassLen bounds a device class.
	MaxClassLen = 16
	// KeyIDLen is the length of a key id.
	KeyIDLen = 8
)

// Magic starts every manifest.
var Magic = [4]byte{'G', 'F', 'W', 'M'}

// Errors of Parse and Verify, wrapped with details; test them with errors.Is.
var (
	// ErrMalformed: the bytes are not a manifest of this format.
	ErrMalformed = errors.New("manifest: malformed")
	// ErrSignature: the signature does not verify with the given key.
	ErrSignature = errors.New("manifest: bad signature")
	// ErrWrongKey: the manifest names another key than the one given.
	ErrWrongKey = errors.New("manifest: signed by another key")
)

// Version is an image's semantic version. Ordering is the security
// counter's job, not the version's: a version may go down if the counter
// does not.
type Version struct {
	Major, Minor uint8
	Patch        uint16
}

// String returns the version as major.minor.patch.
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// ParseVersion reads "MAJOR.MINOR.PATCH" in decimal, major and minor up to
// 255, patch up to 65535.
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(s, ".")
	bad := fmt.Errorf("manifest: version %q: want MAJOR.MINOR.PATCH (up to 255.255.65535)", s)
	if len(parts) != 3 {
		return Version{}, bad
	}
	var n [3]uint64
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 16)
		if err != nil || strconv.FormatUint(v, 10) != p {
			return Version{}, bad
		}
		n[i] = v
	}
	if n[0] > 255 || n[1] > 255 {
		return Version{}, bad
	}
	return Version{Major: uint8(n[0]), Minor: uint8(n[1]), Patch: uint16(n[2])}, nil
}

// Manifest is the decoded content of a manifest.
type Manifest struct {
	// Class names the kind of peripheral the image is built for, such as
	// "sam-v2"; a bootloader refuses images of another class.
	Class string
	// Version is the image's version, for display.
	Version Version
	// Counter is the security counter: a bootloader refuses an image whose
	// counter is below the one it stored when it confirmed an image.
	Counter uint32
	// Size is the image's length in bytes.
	Size uint32
	// Digest is the SHA-256 of the image.
	Digest [sha256.Size]byte
	// KeyID names the signing key (see KeyID).
	KeyID [KeyIDLen]byte
	// Signature is the Ed25519 signature of the first SignedLen bytes.
	Signature [ed25519.SignatureSize]byte
}

// KeyID returns the id of a public key: the first 8 bytes of its SHA-256.
func KeyID(pub ed25519.PublicKey) [KeyIDLen]byte {
	h := sha256.Sum256(pub)
	var id [KeyIDLen]byte
	copy(id[:], h[:])
	return id
}

// ValidClass reports whether s is a device class a manifest can carry:
// 1 to 16 bytes of a-z, 0-9, '.', '_' or '-'.
func ValidClass(s string) bool {
	if len(s) == 0 || len(s) > MaxClassLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// New returns the manifest of image for class, version and counter, signed
// with key.
func New(key ed25519.PrivateKey, class string, v Version, counter uint32, image []byte) (*Manifest, []byte, error) {
	if !ValidClass(class) {
		return nil, nil, fmt.Errorf("manifest: device class %q: want 1 to %d of a-z 0-9 . _ -", class, MaxClassLen)
	}
	if uint64(len(image)) > 0xFFFFFFFF || len(image) == 0 {
		return nil, nil, fmt.Errorf("manifest: image of %d bytes: want 1 byte to 4 GiB", len(image))
	}
	m := &Manifest{
		Class: class, Version: v, Counter: counter, Size: uint32(len(image)),
		Digest: sha256.Sum256(image), KeyID: KeyID(key.Public().(ed25519.PublicKey)),
	}
	b := m.appendSigned(make([]byte, 0, Size))
	copy(m.Signature[:], ed25519.Sign(key, b))
	return m, append(b, m.Signature[:]...), nil
}

// appendSigned appends the signed part of m's encoding to b.
func (m *Manifest) appendSigned(b []byte) []byte {
	b = append(b, Magic[:]...)
	b = append(b, Format, 0, 0, 0)
	var class [MaxClassLen]byte
	copy(class[:], m.Class)
	b = append(b, class[:]...)
	b = append(b, m.Version.Major, m.Version.Minor)
	b = binary.LittleEndian.AppendUint16(b, m.Version.Patch)
	b = binary.LittleEndian.AppendUint32(b, m.Counter)
	b = binary.LittleEndian.AppendUint32(b, m.Size)
	b = append(b, m.Digest[:]...)
	return append(b, m.KeyID[:]...)
}

// Encode returns the 140-byte encoding of m, signature included.
func (m *Manifest) Encode() []byte {
	return append(m.appendSigned(make([]byte, 0, Size)), m.Signature[:]...)
}

// Parse decodes a manifest without verifying its signature: the content is
// untrusted until Verify says otherwise. It checks the layout strictly
// (length, magic, format, zero reserved bytes and class padding, class
// characters, non-zero size), so a manifest has exactly one encoding.
func Parse(b []byte) (*Manifest, error) {
	if len(b) != Size {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrMalformed, len(b), Size)
	}
	if !bytes.Equal(b[0:4], Magic[:]) {
		return nil, fmt.Errorf("%w: magic % x", ErrMalformed, b[0:4])
	}
	if b[4] != Format {
		return nil, fmt.Errorf("%w: format %d, want %d", ErrMalformed, b[4], Format)
	}
	if b[5]|b[6]|b[7] != 0 {
		return nil, fmt.Errorf("%w: reserved bytes are not zero", ErrMalformed)
	}
	class := b[8:24]
	n := bytes.IndexByte(class, 0)
	if n < 0 {
		n = len(class)
	}
	for _, c := range class[n:] {
		if c != 0 {
			return nil, fmt.Errorf("%w: device class padding is not zero", ErrMalformed)
		}
	}
	m := &Manifest{Class: string(class[:n])}
	if !ValidClass(m.Class) {
		return nil, fmt.Errorf("%w: device class %q", ErrMalformed, m.Class)
	}
	m.Version = Version{Major: b[24], Minor: b[25], Patch: binary.LittleEndian.Uint16(b[26:28])}
	m.Counter = binary.LittleEndian.Uint32(b[28:32])
	m.Size = binary.LittleEndian.Uint32(b[32:36])
	if m.Size == 0 {
		return nil, fmt.Errorf("%w: image size 0", ErrMalformed)
	}
	copy(m.Digest[:], b[36:68])
	copy(m.KeyID[:], b[68:76])
	copy(m.Signature[:], b[76:140])
	return m, nil
}

// Verify checks that m is signed by pub. A manifest naming another key
// gives ErrWrongKey, a bad signature ErrSignature.
func (m *Manifest) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("manifest: verifying key of %d bytes", len(pub))
	}
	if id := KeyID(pub); id != m.KeyID {
		return fmt.Errorf("%w: key id %x, the bootloader's is %x", ErrWrongKey, m.KeyID, id)
	}
	if !ed25519.Verify(pub, m.appendSigned(make([]byte, 0, Size)), m.Signature[:]) {
		return ErrSignature
	}
	return nil
}

// ParseVerified is Parse followed by Verify.
func ParseVerified(b []byte, pub ed25519.PublicKey) (*Manifest, error) {
	m, err := Parse(b)
	if err != nil {
		return nil, err
	}
	if err := m.Verify(pub); err != nil {
		return nil, err
	}
	return m, nil
}

// Matches checks image against m's size and digest.
func (m *Manifest) Matches(image []byte) error {
	if uint64(len(image)) != uint64(m.Size) {
		return fmt.Errorf("manifest: image of %d bytes, the manifest says %d", len(image), m.Size)
	}
	if sha256.Sum256(image) != m.Digest {
		return fmt.Errorf("manifest: image digest differs from the manifest's")
	}
	return nil
}
