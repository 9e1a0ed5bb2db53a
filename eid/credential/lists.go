package credential

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/guichet/guichet/eid/credential/cose"
)

// Content types (COSE header 3) of the signed lists; a list signed for one
// use is refused for the other.
const (
	ContentTypeKeySet      = "application/vnd.guichet.eid-keyset+cbor"
	ContentTypeRevocations = "application/vnd.guichet.eid-revocations+cbor"
)

// Limits on the signed lists.
const (
	// MaxKeys bounds the keys in a key set.
	MaxKeys = 256
	// MaxRevoked bounds the entries of a revocation list.
	MaxRevoked = 1 << 20
	// MaxListSize bounds the signed bytes of a list, checked before any
	// parsing: a million 16-byte hashes and the framing.
	MaxListSize = 20 << 20
)

// RevocationHashLen is the length of a revocation list entry.
const RevocationHashLen = 16

// Errors of the list loaders, wrapped with detail.
var (
	// ErrListMalformed reports bytes that are not a signed list of the
	// expected kind: unsigned CBOR, another content type, a bad payload.
	ErrListMalformed = errors.New("eid: malformed signed list")
	// ErrListSignature reports a list signed by a key other than the
	// platform root, or altered after signing.
	ErrListSignature = errors.New("eid: list not signed by the platform root")
	// ErrRollback reports a list older than the one loaded (a lower
	// sequence number), or a different list with the same sequence number.
	ErrRollback = errors.New("eid: list rolled back")
)

// Key is a credential-signing key of the platform.
type Key struct {
	// ID is the kid that codes carry.
	ID []byte
	// Public is a P-256 *ecdsa.PublicKey or an ed25519.PublicKey.
	Public crypto.PublicKey
	// NotBefore and NotAfter bound the key's signing period: a code whose
	// iat falls outside it is refused. The platform keeps a retired key in
	// the set until the codes it signed have expired, and drops a
	// compromised key at once.
	NotBefore, NotAfter time.Time
}

// KeySet is the set of credential-signing keys, signed by the platform root.
type KeySet struct {
	// Seq increases with every key set the platform publishes.
	Seq uint64
	// IssuedAt is when the platform signed it.
	IssuedAt time.Time
	Keys     []Key
}

// RevocationList names revoked credentials by RevocationHash of their cti.
type RevocationList struct {
	// Seq increases with every list the platform publishes.
	Seq uint64
	// IssuedAt is when the platform signed it; a verifier shows how old
	// its revocation knowledge is.
	IssuedAt time.Time
	// Revoked holds RevocationHash values.
	Revoked [][]byte
}

// RevocationHash returns the entry that names the credential with cti id in
// a revocation list: the first 16 bytes of SHA-256 over a domain label and
// the cti. Entries have a fixed size, and the label keeps them from
// matching hashes made for another purpose.
func RevocationHash(cti []byte) []byte {
	h := sha256.New()
	h.Write([]byte("guichet eid revocation v1\x00"))
	h.Write(cti)
	return h.Sum(nil)[:RevocationHashLen]
}

// Revoke adds the credential with cti id to l.
func (l *RevocationList) Revoke(cti []byte) {
	l.Revoked = append(l.Revoked, RevocationHash(cti))
}

type keyEntry struct {
	Key       cose.Key `cbor:"1,keyasint"`
	NotBefore int64    `cbor:"2,keyasint"`
	NotAfter  int64    `cbor:"3,keyasint"`
}

type keySetWire struct {
	Seq      uint64     `cbor:"1,keyasint"`
	IssuedAt int64      `cbor:"2,keyasint"`
	Keys     []keyEntry `cbor:"3,keyasint"`
}

// revocationsWire holds the entries as one byte string of concatenated
// hashes: 16 bytes an entry instead of 17, and one allocation to decode.
type revocationsWire struct {
	Seq      uint64 `cbor:"1,keyasint"`
	IssuedAt int64  `cbor:"2,keyasint"`
	Revoked  []byte `cbor:"3,keyasint"`
}

// SignKeySet returns ks as a COSE_Sign1 signed by the platform root key.
func SignKeySet(root crypto.Signer, ks KeySet) ([]byte, error) {
	w := keySetWire{Seq: ks.Seq, IssuedAt: ks.IssuedAt.Unix(), Keys: []keyEntry{}}
	for _, k := range ks.Keys {
		w.Keys = append(w.Keys, keyEntry{Key: cose.Key{ID: k.ID, Public: k.Public}, NotBefore: k.NotBefore.Unix(), NotAfter: k.NotAfter.Unix()})
	}
	if err := checkKeySet(w); err != nil {
		return nil, fmt.Errorf("eid: key set: %w", err)
	}
	payload, err := encMode.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("eid: key set: %w", err)
	}
	return signList(root, ContentTypeKeySet, payload)
}

// SignRevocations returns l as a COSE_Sign1 signed by the platform root key.
// Entries are sorted and deduplicated.
func SignRevocations(root crypto.Signer, l RevocationList) ([]byte, error) {
	if len(l.Revoked) > MaxRevoked {
		return nil, fmt.Errorf("eid: revocation list: %d entries, at most %d", len(l.Revoked), MaxRevoked)
	}
	rev := slices.Clone(l.Revoked)
	slices.SortFunc(rev, bytes.Compare)
	rev = slices.CompactFunc(rev, bytes.Equal)
	for i, h := range rev {
		if len(h) != RevocationHashLen {
			return nil, fmt.Errorf("eid: revocation list: entry %d of %d bytes, want %d", i, len(h), RevocationHashLen)
		}
	}
	w := revocationsWire{Seq: l.Seq, IssuedAt: l.IssuedAt.Unix(), Revoked: append([]byte{}, bytes.Join(rev, nil)...)}
	if err := checkRevocations(w); err != nil {
		return nil, fmt.Errorf("eid: revocation list: %w", err)
	}
	payload, err := encMode.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("eid: revocation list: %w", err)
	}
	return signList(root, ContentTypeRevocations, payload)
}

func signList(root crypto.Signer, contentType string, payload []byte) ([]byte, error) {
	kid, err := KeyID(root.Public())
	if err != nil {
		return nil, err
	}
	return cose.Sign(rand.Reader, root, cose.Headers{KeyID: kid, ContentType: contentType}, payload)
}

// openList checks that signed is a COSE_Sign1 of contentType signed by root
// and returns its payload.
func openList(signed []byte, root crypto.PublicKey, contentType string) ([]byte, error) {
	if len(signed) > MaxListSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrListMalformed, len(signed), MaxListSize)
	}
	m, err := cose.Decode(signed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrListMalformed, err)
	}
	ct := m.Protected.ContentType
	if ct != contentType {
		// Only a protected content type counts: an unprotected one could
		// be rewritten by anyone.
		return nil, fmt.Errorf("%w: protected content type %q, want %q", ErrListMalformed, ct, contentType)
	}
	rootKid, err := KeyID(root)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(m.KeyID(), rootKid) {
		return nil, fmt.Errorf("%w: signed by kid %x, root is %x", ErrListSignature, m.KeyID(), rootKid)
	}
	if err := m.Verify(root); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrListSignature, err)
	}
	return m.Payload, nil
}

// ParseKeySet checks that signed is a key set signed by the platform root
// key and decodes it.
func ParseKeySet(signed []byte, root crypto.PublicKey) (*KeySet, error) {
	payload, err := openList(signed, root, ContentTypeKeySet)
	if err != nil {
		return nil, err
	}
	var w keySetWire
	if err := claimsDec.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("%w: key set: %v", ErrListMalformed, err)
	}
	if err := checkKeySet(w); err != nil {
		return nil, fmt.Errorf("%w: key set: %v", ErrListMalformed, err)
	}
	ks := &KeySet{Seq: w.Seq, IssuedAt: time.Unix(w.IssuedAt, 0).UTC()}
	for _, e := range w.Keys {
		ks.Keys = append(ks.Keys, Key{ID: e.Key.ID, Public: e.Key.Public,
			NotBefore: time.Unix(e.NotBefore, 0).UTC(), NotAfter: time.Unix(e.NotAfter, 0).UTC()})
	}
	return ks, nil
}

// ParseRevocations checks that signed is a revocation list signed by the
// platform root key and decodes it.
func ParseRevocations(signed []byte, root crypto.PublicKey) (*RevocationList, error) {
	w, err := parseRevocations(signed, root)
	if err != nil {
		return nil, err
	}
	rl := &RevocationList{Seq: w.Seq, IssuedAt: time.Unix(w.IssuedAt, 0).UTC(),
		Revoked: make([][]byte, 0, len(w.Revoked)/RevocationHashLen)}
	for h := range slices.Chunk(w.Revoked, RevocationHashLen) {
		rl.Revoked = append(rl.Revoked, h)
	}
	return rl, nil
}

// parseRevocations checks and decodes a signed revocation list, leaving
// the entries as one sorted byte string.
func parseRevocations(signed []byte, root crypto.PublicKey) (revocationsWire, error) {
	var w revocationsWire
	payload, err := openList(signed, root, ContentTypeRevocations)
	if err != nil {
		return w, err
	}
	if err := claimsDec.Unmarshal(payload, &w); err != nil {
		return w, fmt.Errorf("%w: revocation list: %v", ErrListMalformed, err)
	}
	if err := checkRevocations(w); err != nil {
		return w, fmt.Errorf("%w: revocation list: %v", ErrListMalformed, err)
	}
	return w, nil
}

func checkKeySet(w keySetWire) error {
	if w.Seq == 0 {
		return errors.New("sequence number 0")
	}
	if len(w.Keys) > MaxKeys {
		return fmt.Errorf("%d keys, at most %d", len(w.Keys), MaxKeys)
	}
	seen := map[string]bool{}
	for _, e := range w.Keys {
		if e.Key.Public == nil {
			return errors.New("key without a public key")
		}
		if seen[string(e.Key.ID)] {
			return fmt.Errorf("kid %x twice", e.Key.ID)
		}
		seen[string(e.Key.ID)] = true
		if e.NotAfter <= e.NotBefore {
			return fmt.Errorf("kid %x: validity ends before it starts", e.Key.ID)
		}
	}
	return nil
}

func checkRevocations(w revocationsWire) error {
	if w.Seq == 0 {
		return errors.New("sequence number 0")
	}
	if w.Revoked == nil {
		return errors.New("no revoked entries field")
	}
	if len(w.Revoked)%RevocationHashLen != 0 {
		return fmt.Errorf("entries of %d bytes, not a multiple of %d", len(w.Revoked), RevocationHashLen)
	}
	n := len(w.Revoked) / RevocationHashLen
	if n > MaxRevoked {
		return fmt.Errorf("%d entries, at most %d", n, MaxRevoked)
	}
	// Sorted and unique, so that one list has one encoding.
	for i := 1; i < n; i++ {
		prev := w.Revoked[(i-1)*RevocationHashLen : i*RevocationHashLen]
		if bytes.Compare(prev, w.Revoked[i*RevocationHashLen:(i+1)*RevocationHashLen]) >= 0 {
			return fmt.Errorf("entry %d out of order or repeated", i)
		}
	}
	return nil
}
