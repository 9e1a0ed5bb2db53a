package credential

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/guichet/guichet/eid/credential/cose"
)

func TestRoundTrip(t *testing.T) {
	p := newPlatform(t, Options{Require: Full})
	for _, alg := range []cose.Algorithm{cose.ES256, cose.EdDSA} {
		t.Run(alg.String(), func(t *testing.T) {
			c := typical()
			text := p.issue(t, alg, c)
			if !strings.HasPrefix(text, "GEID1:") {
				t.Fatalf("code %q lacks the prefix", text)
			}
			res, err := p.v.Verify(text, t0)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := mustKid(t, p.issuers[alg].Signer.Public())
			if res.Level != Full || res.Subject != c.Subject || res.Name != c.Name || res.AgeOver18 == nil || !*res.AgeOver18 ||
				res.Issuer != "GZ-PSB" || !bytes.Equal(res.KeyID, want) || len(res.CredentialID) != 16 ||
				!res.Expires.Equal(c.Expires) || !res.IssuedAt.Equal(t0.Add(-time.Hour)) || !res.RevocationsAsOf.IsZero() {
				t.Fatalf("result %+v", res)
			}
		})
	}
	// Two codes for the same claims differ in their cti.
	a, b := p.issue(t, cose.EdDSA, typical()), p.issue(t, cose.EdDSA, typical())
	ra, _ := p.v.Verify(a, t0)
	rb, _ := p.v.Verify(b, t0)
	if bytes.Equal(ra.CredentialID, rb.CredentialID) {
		t.Fatal("two codes share a cti")
	}
	// Optional attributes stay out when not given.
	c := typical()
	c.Name, c.AgeOver18, c.Level = "", nil, Limited
	res, err := p.v.VerifyLevel(p.issue(t, cose.ES256, c), t0, Limited)
	if err != nil || res.Name != "" || res.AgeOver18 != nil || res.Level != Limited {
		t.Fatalf("minimal code: %+v, %v", res, err)
	}
}

func TestKidInUnprotectedHeader(t *testing.T) {
	p := newPlatform(t, Options{})
	c := typical()
	c.ID, c.Issuer, c.IssuedAt = []byte("cti-unprotected"), "GZ-PSB", t0.Add(-time.Minute)
	payload, err := marshalClaims(&c)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cose.SignHeaders(rand.Reader, p.ed, cose.Headers{}, cose.Headers{KeyID: mustKid(t, p.ed.Public())}, payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.v.Verify(wrapRaw(t, msg), t0); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestRefusals makes a real code for every reason Verify gives.
func TestRefusals(t *testing.T) {
	p := newPlatform(t, Options{Require: Full})
	good := p.issue(t, cose.ES256, typical())
	esKid := mustKid(t, p.es.Public())

	// A key the platform never published.
	stranger := mustKey(t, cose.ES256)
	strangerIssuer := &Issuer{Signer: stranger, Name: "GZ-PSB", Now: func() time.Time { return t0 }}
	unknown, err := strangerIssuer.Issue(typical())
	if err != nil {
		t.Fatal(err)
	}
	// The same key claiming the kid of a published key: re-signed.
	strangerIssuer.KeyID = esKid
	resigned, err := strangerIssuer.Issue(typical())
	if err != nil {
		t.Fatal(err)
	}
	// An Ed25519 key claiming the ES256 key's kid.
	crossIssuer := &Issuer{Signer: p.ed, KeyID: esKid, Name: "GZ-PSB", Now: func() time.Time { return t0 }}
	crossAlg, err := crossIssuer.Issue(typical())
	if err != nil {
		t.Fatal(err)
	}
	// A genuine code whose expiry was pushed back after signing.
	m := open(t, good)
	var claims cwt
	if err := cbor.Unmarshal(m.Payload, &claims); err != nil {
		t.Fatal(err)
	}
	later := *claims.Exp + 365*86400
	claims.Exp = &later
	if m.Payload, err = cbor.Marshal(claims); err != nil {
		t.Fatal(err)
	}
	altered := seal(t, m)
	// A genuine code with one signature bit flipped.
	m = open(t, good)
	m.Signature[10] ^= 0x01
	badSig := seal(t, m)
	// The platform's own key signing something that is not a claims set.
	garbageClaims := signRaw(t, p.es, esKid, []byte("not a claims set"))
	c := typical()
	c.Level = "gold"
	c.ID, c.Issuer, c.IssuedAt = []byte("x"), "GZ-PSB", t0
	unknownLevel := func() string {
		w := cwt{Iss: "GZ-PSB", Exp: unixPtr(c.Expires), Iat: unixPtr(c.IssuedAt), Cti: c.ID,
			EID: &eidClaim{Version: 1, Level: "gold", Subject: "S"}}
		b, _ := encMode.Marshal(w)
		return signRaw(t, p.es, esKid, b)
	}()
	noEID := func() string {
		b, _ := encMode.Marshal(cwt{Iss: "GZ-PSB", Exp: unixPtr(c.Expires), Iat: unixPtr(c.IssuedAt), Cti: c.ID})
		return signRaw(t, p.es, esKid, b)
	}()

	withDates := func(iat, nbf, exp time.Time) string {
		c := typical()
		c.IssuedAt, c.NotBefore, c.Expires = iat, nbf, exp
		return p.issue(t, cose.ES256, c)
	}
	expired := withDates(t0.Add(-48*time.Hour), time.Time{}, t0.Add(-time.Second))
	expiresNow := withDates(t0.Add(-48*time.Hour), time.Time{}, t0)
	notYet := withDates(t0.Add(-time.Hour), t0.Add(time.Hour), t0.Add(48*time.Hour))
	iatFuture := withDates(t0.Add(time.Minute), time.Time{}, t0.Add(48*time.Hour))
	beforeKey := withDates(t0.AddDate(0, -2, 0), time.Time{}, t0.Add(48*time.Hour))

	limited := typical()
	limited.Level = Limited
	limitedCode := p.issue(t, cose.EdDSA, limited)

	// A zlib bomb: 1 MB of zeros deflates to about a kilobyte.
	bomb := b45(deflate(make([]byte, 1<<20)))
	// The zlib stream with its Adler-32 checksum broken, and with junk after it.
	z := deflate([]byte("hello"))
	z[len(z)-1] ^= 0xFF
	badChecksum := b45(z)
	trailing := b45(append(deflate([]byte("hello")), 0))

	// A revoked code.
	revokedCode := p.issue(t, cose.ES256, typical())
	rl := RevocationList{Seq: 1, IssuedAt: t0.Add(-time.Hour)}
	rl.Revoke(open(t, revokedCode).cti(t))
	rl.Revoke([]byte("someone else"))
	signedRL, err := SignRevocations(p.root, rl)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.v.SetRevocations(signedRL); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		text string
		want Reason
	}{
		{"DCC prefix", "HC1:" + strings.TrimPrefix(good, DefaultPrefix), ReasonBadPrefix},
		{"lower-case prefix", "geid1:" + strings.TrimPrefix(good, DefaultPrefix), ReasonBadPrefix},
		{"empty", "", ReasonBadPrefix},
		{"URL", "https://example.com/?GEID1:", ReasonBadPrefix},
		{"over QR capacity", DefaultPrefix + strings.Repeat("0", MaxTextLen), ReasonTooBig},
		{"zlib bomb", bomb, ReasonTooBig},
		{"lower-case Base45", strings.ToLower(good), ReasonBadPrefix},
		{"lower-case body", DefaultPrefix + strings.ToLower(strings.TrimPrefix(good, DefaultPrefix)), ReasonBadBase45},
		{"Base45 length", lengthOneMod3(good), ReasonBadBase45},
		{"Base45 range", good[:len(good)-len(good)%3] + ":::", ReasonBadBase45},
		{"not compressed", b45(open(t, good).Payload), ReasonDecompress},
		{"zlib checksum", badChecksum, ReasonDecompress},
		{"after the zlib stream", trailing, ReasonDecompress},
		{"truncated", good[:len(good)-len(good)%3-30], ReasonDecompress},
		{"not CBOR", wrapRaw(t, []byte("hello")), ReasonMalformedCOSE},
		{"untagged", wrapRaw(t, mustCBOR(t, open(t, good))), ReasonMalformedCOSE},
		{"unknown kid", unknown, ReasonUnknownKey},
		{"no kid", noKid(t, p), ReasonUnknownKey},
		{"re-signed under a published kid", resigned, ReasonBadSignature},
		{"other algorithm under a published kid", crossAlg, ReasonBadSignature},
		{"altered payload", altered, ReasonBadSignature},
		{"flipped signature bit", badSig, ReasonBadSignature},
		{"signed garbage", garbageClaims, ReasonMalformedClaims},
		{"unknown level", unknownLevel, ReasonMalformedClaims},
		{"no e-ID claim", noEID, ReasonMalformedClaims},
		{"issued before the key", beforeKey, ReasonKeyNotValid},
		{"nbf in the future", notYet, ReasonNotYetValid},
		{"iat in the future", iatFuture, ReasonNotYetValid},
		{"expired", expired, ReasonExpired},
		{"expires now", expiresNow, ReasonExpired},
		{"revoked", revokedCode, ReasonRevoked},
		{"limited where full is required", limitedCode, ReasonWrongLevel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.v.Verify(tt.text, t0)
			if err == nil {
				t.Fatalf("accepted: %+v", res)
			}
			if !errors.Is(err, tt.want) || ReasonOf(err) != tt.want {
				t.Fatalf("refused with %v, want %s", err, tt.want)
			}
		})
	}
	// The good code passes the same verifier, with the list's age.
	res, err := p.v.Verify(good, t0)
	if err != nil || !res.RevocationsAsOf.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("good code: %+v, %v", res, err)
	}
	// After the signature checks out, a refusal still says what the code holds.
	if res, err := p.v.Verify(expired, t0); ReasonOf(err) != ReasonExpired || !res.Expires.Equal(t0.Add(-time.Second)) || res.Level != Full {
		t.Fatalf("expired: %+v, %v", res, err)
	}
	// Clock skew lets a slightly fast or slow device clock through.
	skewed, err := NewVerifier(p.root.Public(), Options{ClockSkew: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := skewed.SetKeySet(p.keySet); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{expired, expiresNow, iatFuture} {
		if _, err := skewed.Verify(text, t0); err != nil {
			t.Errorf("with 2 min skew: %v", err)
		}
	}
	if _, err := skewed.Verify(notYet, t0); ReasonOf(err) != ReasonNotYetValid {
		t.Errorf("an hour early with 2 min skew: %v", err)
	}
}

// lengthOneMod3 pads a code so that its Base45 body leaves one lone
// character, which no byte string encodes to.
func lengthOneMod3(code string) string {
	if len(strings.TrimPrefix(code, DefaultPrefix))%3 == 0 {
		return code + "0"
	}
	return code + "00"
}

func (m rawSign1) cti(t testing.TB) []byte {
	t.Helper()
	var w cwt
	if err := cbor.Unmarshal(m.Payload, &w); err != nil {
		t.Fatal(err)
	}
	return w.Cti
}

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noKid is a genuine signature by a published key on a code without a kid.
func noKid(t testing.TB, p *platform) string {
	c := typical()
	c.ID, c.Issuer, c.IssuedAt = []byte("k"), "GZ-PSB", t0
	payload, err := marshalClaims(&c)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, p.es, nil, payload)
}

func TestStaleRevocations(t *testing.T) {
	p := newPlatform(t, Options{MaxRevocationAge: 24 * time.Hour})
	code := p.issue(t, cose.ES256, typical())
	if _, err := p.v.Verify(code, t0); ReasonOf(err) != ReasonStaleRevocations {
		t.Fatalf("without a list: %v", err)
	}
	old, err := SignRevocations(p.root, RevocationList{Seq: 1, IssuedAt: t0.Add(-25 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.v.SetRevocations(old); err != nil {
		t.Fatal(err)
	}
	if _, err := p.v.Verify(code, t0); ReasonOf(err) != ReasonStaleRevocations {
		t.Fatalf("with a 25 h old list: %v", err)
	}
	fresh, _ := SignRevocations(p.root, RevocationList{Seq: 2, IssuedAt: t0.Add(-time.Hour)})
	if _, _, err := p.v.SetRevocations(fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := p.v.Verify(code, t0); err != nil {
		t.Fatalf("with a fresh list: %v", err)
	}
}

func TestIssuerRefuses(t *testing.T) {
	p := newPlatform(t, Options{})
	is := p.issuers[cose.ES256]
	for name, c := range map[string]Credential{
		"no expiry":        {Level: Full, Subject: "s"},
		"no subject":       {Level: Full, Expires: t0.Add(time.Hour)},
		"unknown level":    {Level: "gold", Subject: "s", Expires: t0.Add(time.Hour)},
		"exp before iat":   {Level: Full, Subject: "s", Expires: t0.Add(-2 * time.Hour)},
		"subject too long": {Level: Full, Subject: strings.Repeat("s", 65), Expires: t0.Add(time.Hour)},
	} {
		if _, err := is.Issue(c); err == nil {
			t.Errorf("%s: issued", name)
		}
	}
	bad := *is
	bad.Prefix = "geid1:"
	if _, err := bad.Issue(typical()); err == nil {
		t.Error("lower-case prefix accepted")
	}
	custom := *is
	custom.Prefix = "CN-EID1:"
	text, err := custom.Issue(typical())
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(p.root.Public(), Options{Prefix: "CN-EID1:"})
	v.SetKeySet(p.keySet)
	if _, err := v.Verify(text, t0); err != nil {
		t.Fatalf("custom prefix: %v", err)
	}
	if _, err := p.v.Verify(text, t0); ReasonOf(err) != ReasonBadPrefix {
		t.Fatalf("custom prefix against the default: %v", err)
	}
}

func TestNoKeySet(t *testing.T) {
	p := newPlatform(t, Options{})
	v, err := NewVerifier(p.root.Public(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(p.issue(t, cose.ES256, typical()), t0); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("without a key set: %v", err)
	}
	if _, err := NewVerifier(p.root.Public(), Options{Require: "gold"}); err == nil {
		t.Fatal("unknown required level accepted")
	}
	if _, err := NewVerifier("not a key", Options{}); err == nil {
		t.Fatal("a string as root key accepted")
	}
}
