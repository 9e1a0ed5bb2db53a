// Package pin hashes the PINs of the appliance's people (cashiers,
// supervisors, e-ID officials) with PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) and
// checks them in constant time. It keeps no state: the callers store the
// Hash and count the failures.
package pin

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"unicode/utf8"
)

// DefaultIterations is the PBKDF2-HMAC-SHA256 work factor of a new PIN
// hash, OWASP's 2023 figure. PBKDF2 comes from the standard library;
// scrypt would resist GPUs better but would add a module.
const DefaultIterations = 600_000

// MaxIterations bounds a stored work factor, so that a damaged record
// cannot stall a sign-in for hours.
const MaxIterations = 100_000_000

// ErrWeak is the error of a PIN too short or too long.
var ErrWeak = errors.New("pin: a PIN has 6 to 64 characters")

// Hash is the stored form of a PIN: a random salt and the slow hash, never
// the PIN.
type Hash struct {
	Salt       []byte
	Key        []byte
	Iterations int
}

// Check says whether pin has an acceptable length: 6 to 64 characters.
func Check(pin string) error {
	if n := utf8.RuneCountInString(pin); n < 6 || len(pin) > 64 {
		return ErrWeak
	}
	return nil
}

// New hashes pin with a fresh salt and iter iterations (DefaultIterations
// if iter <= 0).
func New(pin string, iter int) (Hash, error) {
	if err := Check(pin); err != nil {
		return Hash{}, err
	}
	if iter <= 0 {
		iter = DefaultIterations
	}
	h := Hash{Salt: make([]byte, 16), Iterations: iter}
	rand.Read(h.Salt)
	var err error
	if h.Key, err = Derive(pin, h.Salt, iter); err != nil {
		return Hash{}, err
	}
	return h, nil
}

// Derive is the PBKDF2 key of pin.
func Derive(pin string, salt []byte, iter int) ([]byte, error) {
	k, err := pbkdf2.Key(sha256.New, pin, salt, iter, 32)
	if err != nil {
		return nil, fmt.Errorf("pin: hash: %w", err)
	}
	return k, nil
}

// Match says whether pin is the one hashed in h. A record with a work
// factor out of range is an error, not a mismatch.
func (h Hash) Match(pin string) (bool, error) {
	if h.Iterations <= 0 || h.Iterations > MaxIterations {
		return false, errors.New("pin: bad stored record")
	}
	k, err := Derive(pin, h.Salt, h.Iterations)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(k, h.Key) == 1, nil
}

// Waste spends the time of a check for an unknown account, so that timing
// does not tell which ids exist.
func Waste(pin string, iter int) {
	if iter <= 0 {
		iter = DefaultIterations
	}
	Derive(pin, make([]byte, 16), iter)
}
