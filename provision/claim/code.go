package claim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// A Code is a one-time enrolment code: 80 random bits written as sixteen
// Crockford base-32 characters in four groups (7KQ2-M9XD-4HTR-B0WZ), easy
// to read aloud and to type, and a QR code for a scanner. Typing is
// forgiving: lower case, I and L for 1, O for 0, spaces and dashes are
// accepted.
type Code string

// codeLen is the number of base-32 characters in a code.
const codeLen = 16

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewCode draws a fresh code.
func NewCode() (Code, error) {
	var b [codeLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("claim: code: %w", err)
	}
	for i := range b {
		b[i] = crockford[b[i]&31]
	}
	return Code(b[:]), nil
}

// ParseCode reads a code as a person typed it.
func ParseCode(s string) (Code, error) {
	if len(s) > 64 {
		return "", errors.New("claim: code: too long")
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'I' || r == 'L':
			r = '1'
		case r == 'O':
			r = '0'
		}
		if r > 127 || !strings.ContainsRune(crockford, r) {
			return "", fmt.Errorf("claim: code: %q is not a code character", r)
		}
		b.WriteRune(r)
	}
	if b.Len() != codeLen {
		return "", fmt.Errorf("claim: code: %d characters, want %d", b.Len(), codeLen)
	}
	return Code(b.String()), nil
}

// String writes the code in four groups of four.
func (c Code) String() string {
	s := string(c)
	if len(s) != codeLen {
		return s
	}
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// Hash is what the platform stores instead of the code: a copy of its
// database then gives no usable code.
func (c Code) Hash() string {
	h := sha256.Sum256([]byte("guichet-enrol-code\x00" + string(c)))
	return hex.EncodeToString(h[:])
}

// NewClientID draws the random MQTT client id of an unenrolled client.
func NewClientID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("claim: client id: %w", err)
	}
	return "prov-" + hex.EncodeToString(b[:]), nil
}

// ValidClientID reports whether cid is a client id NewClientID could make.
func ValidClientID(cid string) bool {
	h, ok := strings.CutPrefix(cid, "prov-")
	if !ok || len(h) != 32 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}
