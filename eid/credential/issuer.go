package credential

import (
	"crypto"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/guichet/guichet/eid/credential/cose"
)

// Issuer makes e-ID codes. The reference platform and the tests use it;
// devices only verify.
type Issuer struct {
	// Signer is the credential-signing key: a P-256 *ecdsa.PrivateKey, an
	// ed25519.PrivateKey, or a crypto.Signer holding one.
	Signer crypto.Signer
	// KeyID is the kid written in the protected header; nil for
	// KeyID(Signer.Public()).
	KeyID []byte
	// Name is the iss claim of codes whose Credential leaves it empty.
	Name string
	// Prefix starts the code; "" for DefaultPrefix.
	Prefix string
	// Rand is the randomness source; nil for crypto/rand.
	Rand io.Reader
	// Now gives the issue time of codes whose Credential leaves it zero;
	// nil for time.Now.
	Now func() time.Time
}

// Issue signs c and returns the text of its code. It fills in the cti,
// iss and iat that c leaves empty.
func (is *Issuer) Issue(c Credential) (string, error) {
	rnd := is.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	prefix := is.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := checkPrefix(prefix); err != nil {
		return "", err
	}
	kid := is.KeyID
	if kid == nil {
		var err error
		if kid, err = KeyID(is.Signer.Public()); err != nil {
			return "", err
		}
	}
	if c.ID == nil {
		c.ID = make([]byte, 16)
		if _, err := io.ReadFull(rnd, c.ID); err != nil {
			return "", fmt.Errorf("eid: credential id: %w", err)
		}
	}
	if c.Issuer == "" {
		c.Issuer = is.Name
	}
	if c.IssuedAt.IsZero() {
		now := time.Now
		if is.Now != nil {
			now = is.Now
		}
		c.IssuedAt = now()
	}
	payload, err := marshalClaims(&c)
	if err != nil {
		return "", fmt.Errorf("eid: issue: %w", err)
	}
	msg, err := cose.Sign(rnd, is.Signer, cose.Headers{KeyID: kid}, payload)
	if err != nil {
		return "", fmt.Errorf("eid: issue: %w", err)
	}
	text, err := wrap(prefix, msg)
	if err != nil {
		return "", err
	}
	if len(text) > MaxTextLen {
		return "", fmt.Errorf("eid: issue: code of %d characters, at most %d", len(text), MaxTextLen)
	}
	return text, nil
}
