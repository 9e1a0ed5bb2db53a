// Package envelope is the wire format between appliance and platform: a
// signed frame around a JSON payload, and the payloads themselves (records
// going up, acks and commands coming down). docs/protocol.md is its
// specification; keep the two in step.
//
// A frame is
//
//	"GQ" | version (1 byte) | payload length (4 bytes, big-endian) | payload | Ed25519 signature (64 bytes)
//
// The signature covers the payload bytes exactly as sent, so no party ever
// re-encodes JSON before checking it, and the record's hash in the chain is
// the SHA-256 of the same bytes.
package envelope

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the frame version this package writes and reads.
const Version = 1

// MaxFrame bounds a frame; anything larger is refused before it is parsed.
const MaxFrame = 256 << 10

const headerLen = 2 + 1 + 4

// Errors returned by Split and Verify.
var (
	ErrShort     = errors.New("envelope: frame truncated")
	ErrTooLarge  = fmt.Errorf("envelope: frame larger than %d bytes", MaxFrame)
	ErrMagic     = errors.New("envelope: not a guichet frame (bad magic)")
	ErrVersion   = errors.New("envelope: unsupported frame version")
	ErrLength    = errors.New("envelope: payload length does not match frame size")
	ErrSignature = errors.New("envelope: bad signature")
)

// Seal frames payload and signs it with key.
func Seal(key ed25519.PrivateKey, payload []byte) []byte {
	out := make([]byte, headerLen, headerLen+len(payload)+ed25519.SignatureSize)
	out[0], out[1], out[2] = 'G', 'Q', Version
	binary.BigEndian.PutUint32(out[3:7], uint32(len(payload)))
	out = append(out, payload...)
	return append(out, ed25519.Sign(key, payload)...)
}

// Split checks a frame's structure and returns its payload and signature,
// without checking the signature: the receiver may need the payload to
// know which key to check it with.
func Split(frame []byte) (payload, sig []byte, err error) {
	if len(frame) > MaxFrame {
		return nil, nil, ErrTooLarge
	}
	if len(frame) < headerLen+ed25519.SignatureSize {
		return nil, nil, ErrShort
	}
	if frame[0] != 'G' || frame[1] != 'Q' {
		return nil, nil, ErrMagic
	}
	if frame[2] != Version {
		return nil, nil, fmt.Errorf("%w: %d", ErrVersion, frame[2])
	}
	n := binary.BigEndian.Uint32(frame[3:7])
	if uint64(n) != uint64(len(frame)-headerLen-ed25519.SignatureSize) {
		return nil, nil, fmt.Errorf("%w: header says %d, frame holds %d", ErrLength, n, len(frame)-headerLen-ed25519.SignatureSize)
	}
	payload = frame[headerLen : headerLen+int(n)]
	sig = frame[headerLen+int(n):]
	return payload, sig, nil
}

// Verify checks sig over payload with key.
func Verify(key ed25519.PublicKey, payload, sig []byte) error {
	if len(key) != ed25519.PublicKeySize || !ed25519.Verify(key, payload, sig) {
		return ErrSignature
	}
	return nil
}

// Open splits frame and checks its signature with key.
func Open(key ed25519.PublicKey, frame []byte) ([]byte, error) {
	payload, sig, err := Split(frame)
	if err != nil {
		return nil, err
	}
	if err := Verify(key, payload, sig); err != nil {
		return nil, err
	}
	return payload, nil
}

// Hash is the SHA-256 of a record's payload: the link of the chain.
type Hash [sha256.Size]byte

// HashOf returns the hash of payload.
func HashOf(payload []byte) Hash { return sha256.Sum256(payload) }

// decodeStrict unmarshals JSON, refusing unknown fields so that a payload
// from a newer schema is noticed rather than half-read.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON")
	}
	return nil
}
