package credential

import (
	"encoding/hex"
	"fmt"
	"os"
	"time"
)

// Default locations of the trust material on a device: the root key comes
// with provisioning, the lists with each sync from the platform.
const (
	DefaultRootPath        = "/etc/guichet/eid-root.pem"
	DefaultKeySetPath      = "/var/lib/guichet/eid/keyset.cose"
	DefaultRevocationsPath = "/var/lib/guichet/eid/revocations.cose"
)

// LoadVerifier reads the platform root public key (PEM) at rootPath and the
// signed key set at keySetPath and, unless revocationsPath is "", the signed
// revocation list, and returns a Verifier holding them. Unlike OpenTrust, a
// missing or refused list is an error: this is the technician's tool
// checking the files it was given.
func LoadVerifier(rootPath, keySetPath, revocationsPath string, opts Options) (*Verifier, error) {
	return load(rootPath, keySetPath, revocationsPath, opts, func(err error) error { return err })
}

// load is the one loader of the trust material: the root key, which must
// be there, then the lists, whose failures (missing, too large, refused)
// go to kept, which returns the error to stop on or nil to go on without
// that list.
func load(rootPath, keySetPath, revocationsPath string, opts Options, kept func(error) error) (*Verifier, error) {
	b, err := os.ReadFile(rootPath)
	if err != nil {
		return nil, fmt.Errorf("eid: root key: %w", err)
	}
	root, err := ParsePublicKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("eid: root key %s: %w", rootPath, err)
	}
	v, err := NewVerifier(root, opts)
	if err != nil {
		return nil, err
	}
	if b, err = readLimited(keySetPath); err != nil {
		err = fmt.Errorf("eid: key set: %w", err)
	} else if _, err = v.SetKeySet(b); err != nil {
		err = fmt.Errorf("eid: key set %s: %w", keySetPath, err)
	}
	if err != nil {
		if err := kept(err); err != nil {
			return nil, err
		}
	}
	if revocationsPath != "" {
		if b, err = readLimited(revocationsPath); err != nil {
			err = fmt.Errorf("eid: revocation list: %w", err)
		} else if _, _, err = v.SetRevocations(b); err != nil {
			err = fmt.Errorf("eid: revocation list %s: %w", revocationsPath, err)
		}
		if err != nil {
			if err := kept(err); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// readLimited reads a list file, refusing one larger than MaxListSize
// before reading it.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxListSize {
		return nil, fmt.Errorf("%s: %d bytes, at most %d", path, st.Size(), MaxListSize)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Verdict is the outcome of a verification as the technician's tool and
// the UI show it. It leaves out the name and the age attribute: the
// pseudonym and the level are what a verdict needs.
type Verdict struct {
	Valid  bool   `json:"valid"`
	Reason Reason `json:"reason"` // "" when valid
	Detail string `json:"detail,omitempty"`
	Level  Level  `json:"level"`
	// Subject is the pseudonym, when the signature checked out.
	Subject string `json:"subject,omitempty"`
	// Expires is RFC 3339, "" when not known.
	Expires string `json:"expires"`
	// KID is the key id in hex, "" when not known.
	KID string `json:"kid"`
	// RevocationsAsOf is when the revocation list checked was issued;
	// empty when none was.
	RevocationsAsOf string `json:"revocations_as_of,omitempty"`
}

// NewVerdict summarises what Verify returned.
func NewVerdict(res Result, err error) Verdict {
	v := Verdict{Valid: err == nil, Level: res.Level, Subject: res.Subject, KID: hex.EncodeToString(res.KeyID)}
	if err != nil {
		v.Reason, v.Detail = ReasonOf(err), err.Error()
		if r, ok := err.(*Refusal); ok {
			v.Detail = r.Detail
		}
	}
	if !res.Expires.IsZero() {
		v.Expires = res.Expires.UTC().Format(time.RFC3339)
	}
	if !res.RevocationsAsOf.IsZero() {
		v.RevocationsAsOf = res.RevocationsAsOf.UTC().Format(time.RFC3339)
	}
	return v
}
