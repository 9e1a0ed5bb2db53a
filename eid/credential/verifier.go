package credential

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guichet/guichet/eid/credential/cose"
)

// Reason says why a code was refused. It is an error, so that
// errors.Is(err, ReasonExpired) tests a Refusal.
type Reason string

// The reasons a code is refused, in the order Verify checks them.
const (
	ReasonTooBig           Reason = "too_big"           // text or inflated payload over the limits
	ReasonBadPrefix        Reason = "bad_prefix"        // not a guichet e-ID code
	ReasonBadBase45        Reason = "bad_base45"        // not Base45 (RFC 9285)
	ReasonDecompress       Reason = "decompress"        // not a valid zlib stream
	ReasonMalformedCOSE    Reason = "malformed_cose"    // not a COSE_Sign1 of this profile
	ReasonUnknownKey       Reason = "unknown_kid"       // no kid, or not in the key set
	ReasonBadSignature     Reason = "bad_signature"     // altered, or signed by another key
	ReasonMalformedClaims  Reason = "malformed_claims"  // signed, but not a valid claims set
	ReasonKeyNotValid      Reason = "key_not_valid"     // iat outside the key's signing period
	ReasonNotYetValid      Reason = "not_yet_valid"     // nbf or iat in the future
	ReasonExpired          Reason = "expired"           // exp has passed
	ReasonStaleRevocations Reason = "stale_revocations" // no revocation list, or too old
	ReasonRevoked          Reason = "revoked"           // cti is on the revocation list
	ReasonWrongLevel       Reason = "wrong_level"       // level below the one required
)

// Error returns the reason with the package's prefix.
func (r Reason) Error() string { return "eid: code refused: " + string(r) }

// Refusal is the error Verify returns for a code it refuses. Detail never
// holds personal data, so a Refusal may be logged.
type Refusal struct {
	Reason Reason
	Detail string
}

// Error returns the reason and its detail.
func (e *Refusal) Error() string {
	if e.Detail == "" {
		return e.Reason.Error()
	}
	return e.Reason.Error() + ": " + e.Detail
}

// Is reports whether target is e's Reason.
func (e *Refusal) Is(target error) bool {
	r, ok := target.(Reason)
	return ok && r == e.Reason
}

func refuse(r Reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the Reason of a Refusal in err's chain, or "" when err is
// nil or not a refusal.
func ReasonOf(err error) Reason {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// Result is what a verified code asserts, for the flow that asked. It is
// personal data: keep it out of logs.
type Result struct {
	Level   Level
	Subject string
	// Name and AgeOver18 are empty and nil when the code leaves them out.
	Name      string
	AgeOver18 *bool
	Issuer    string
	// CredentialID is the cti.
	CredentialID []byte
	KeyID        []byte
	IssuedAt     time.Time
	Expires      time.Time
	// RevocationsAsOf is the IssuedAt of the revocation list checked; zero
	// when none is loaded.
	RevocationsAsOf time.Time
}

// Options configure a Verifier.
type Options struct {
	// Prefix starts every code; "" for DefaultPrefix.
	Prefix string
	// Require is the level Verify requires; "" accepts both levels.
	Require Level
	// ClockSkew is the tolerance on nbf, iat and exp for a device clock that
	// drifts while offline.
	ClockSkew time.Duration
	// MaxRevocationAge, when positive, refuses every code while no
	// revocation list is loaded or the loaded one was issued longer ago
	// than this. Zero accepts codes without revocation knowledge.
	MaxRevocationAge time.Duration
}

// Verifier checks e-ID codes offline. Its key set and revocation list are
// replaced by SetKeySet and SetRevocations while Verify runs in other
// goroutines.
type Verifier struct {
	root    crypto.PublicKey
	opts    Options
	mu      sync.Mutex // serialises updates
	keys    atomic.Pointer[keyState]
	revoked atomic.Pointer[revocationState]
}

type keyState struct {
	seq    uint64
	signed []byte
	byID   map[string]Key
}

type revocationState struct {
	seq      uint64
	signed   []byte
	issuedAt time.Time
	// sorted holds the entries back to back in increasing order: 16 MB
	// for a million entries where a map would take several times that.
	sorted []byte
}

// revoked reports whether the cti is on the list, by binary search.
func (st *revocationState) revoked(cti []byte) bool {
	h := RevocationHash(cti)
	n := len(st.sorted) / RevocationHashLen
	i := sort.Search(n, func(i int) bool {
		return bytes.Compare(st.sorted[i*RevocationHashLen:(i+1)*RevocationHashLen], h) >= 0
	})
	return i < n && bytes.Equal(st.sorted[i*RevocationHashLen:(i+1)*RevocationHashLen], h)
}

// NewVerifier returns a Verifier that trusts lists signed by the platform
// root key. It has no keys until SetKeySet.
func NewVerifier(root crypto.PublicKey, opts Options) (*Verifier, error) {
	if _, err := KeyID(root); err != nil {
		return nil, fmt.Errorf("eid: root key: %w", err)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Require != "" && !opts.Require.Valid() {
		return nil, fmt.Errorf("eid: unknown required level %q", opts.Require)
	}
	if opts.ClockSkew < 0 || opts.MaxRevocationAge < 0 {
		return nil, errors.New("eid: negative duration in options")
	}
	return &Verifier{root: root, opts: opts}, nil
}

// SetKeySet checks a signed key set (see ParseKeySet) and replaces the
// verifier's keys with it. It refuses a set with a lower sequence number
// than the loaded one, or a different set with the same number
// (ErrRollback); loading the same set again is a no-op.
func (v *Verifier) SetKeySet(signed []byte) (*KeySet, error) {
	ks, err := ParseKeySet(signed, v.root)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if cur := v.keys.Load(); cur != nil {
		if err := checkSeq("key set", cur.seq, ks.Seq, cur.signed, signed); err != nil {
			return nil, err
		}
	}
	st := &keyState{seq: ks.Seq, signed: bytes.Clone(signed), byID: map[string]Key{}}
	for _, k := range ks.Keys {
		st.byID[string(k.ID)] = k
	}
	v.keys.Store(st)
	return ks, nil
}

// SetRevocations checks a signed revocation list (see ParseRevocations) and
// replaces the verifier's with it, refusing rollbacks as SetKeySet does.
// It returns the list's sequence number and issue time.
func (v *Verifier) SetRevocations(signed []byte) (seq uint64, issuedAt time.Time, err error) {
	w, err := parseRevocations(signed, v.root)
	if err != nil {
		return 0, time.Time{}, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if cur := v.revoked.Load(); cur != nil {
		if err := checkSeq("revocation list", cur.seq, w.Seq, cur.signed, signed); err != nil {
			return 0, time.Time{}, err
		}
	}
	issuedAt = time.Unix(w.IssuedAt, 0).UTC()
	v.revoked.Store(&revocationState{seq: w.Seq, signed: bytes.Clone(signed), issuedAt: issuedAt, sorted: w.Revoked})
	return w.Seq, issuedAt, nil
}

func checkSeq(what string, cur, next uint64, curSigned, nextSigned []byte) error {
	switch {
	case next < cur:
		return fmt.Errorf("%w: %s sequence %d, %d already loaded", ErrRollback, what, next, cur)
	case next == cur && !bytes.Equal(curSigned, nextSigned):
		// Signatures are randomised, so a re-signed identical list also
		// lands here; the platform bumps the sequence for every list.
		return fmt.Errorf("%w: another %s with sequence %d", ErrRollback, what, next)
	}
	return nil
}

// Verify checks the code text at time now and returns what it asserts, or
// a *Refusal that says why it was refused. The level required is the
// verifier's Options.Require.
//
// On a refusal after the signature checked out (key_not_valid and later
// reasons), Result holds the code's contents so the official can see, say,
// when it expired; otherwise it holds at most the kid. Only a nil error
// makes a Result trustworthy.
func (v *Verifier) Verify(text string, now time.Time) (Result, error) {
	return v.VerifyLevel(text, now, v.opts.Require)
}

// VerifyLevel is Verify with the level required given per call, for a
// counter that opens procedures of different levels.
func (v *Verifier) VerifyLevel(text string, now time.Time, require Level) (Result, error) {
	var res Result
	raw, err := unwrap(v.opts.Prefix, text)
	if err != nil {
		return res, err
	}
	msg, err := cose.Decode(raw)
	if err != nil {
		return res, refuse(ReasonMalformedCOSE, "%v", err)
	}
	res.KeyID = msg.KeyID()
	if res.KeyID == nil {
		return res, refuse(ReasonUnknownKey, "no kid")
	}
	var key Key
	var ok bool
	if ks := v.keys.Load(); ks != nil {
		key, ok = ks.byID[string(res.KeyID)]
	}
	if !ok {
		return res, refuse(ReasonUnknownKey, "kid %x not in the key set", res.KeyID)
	}
	if err := msg.Verify(key.Public); err != nil {
		return res, refuse(ReasonBadSignature, "%v", err)
	}
	c, err := unmarshalClaims(msg.Payload)
	if err != nil {
		return res, refuse(ReasonMalformedClaims, "%v", err)
	}
	res.Level, res.Subject, res.Name, res.AgeOver18 = c.Level, c.Subject, c.Name, c.AgeOver18
	res.Issuer, res.CredentialID, res.IssuedAt, res.Expires = c.Issuer, c.ID, c.IssuedAt, c.Expires
	if c.IssuedAt.Before(key.NotBefore) || !c.IssuedAt.Before(key.NotAfter) {
		return res, refuse(ReasonKeyNotValid, "issued %s, key %x signs from %s to %s",
			stamp(c.IssuedAt), res.KeyID, stamp(key.NotBefore), stamp(key.NotAfter))
	}
	skew := v.opts.ClockSkew
	start := c.IssuedAt
	if c.NotBefore.After(start) {
		start = c.NotBefore
	}
	if now.Add(skew).Before(start) {
		return res, refuse(ReasonNotYetValid, "valid from %s, now %s", stamp(start), stamp(now))
	}
	// RFC 8392 section 3.1.4: not accepted on or after exp.
	if !now.Add(-skew).Before(c.Expires) {
		return res, refuse(ReasonExpired, "expired %s, now %s", stamp(c.Expires), stamp(now))
	}
	rs := v.revoked.Load()
	if rs != nil {
		res.RevocationsAsOf = rs.issuedAt
	}
	if max := v.opts.MaxRevocationAge; max > 0 {
		if rs == nil {
			return res, refuse(ReasonStaleRevocations, "no revocation list loaded")
		}
		if now.Sub(rs.issuedAt) > max {
			return res, refuse(ReasonStaleRevocations, "revocation list of %s is older than %s", stamp(rs.issuedAt), max)
		}
	}
	if rs != nil {
		if rs.revoked(c.ID) {
			return res, refuse(ReasonRevoked, "revoked by list %d", rs.seq)
		}
	}
	if !c.Level.Satisfies(require) {
		return res, refuse(ReasonWrongLevel, "level %s, %s required", c.Level, require)
	}
	return res, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
