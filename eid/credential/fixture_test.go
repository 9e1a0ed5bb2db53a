package credential

import (
	"bytes"
	"compress/zlib"
	"crypto"
	"crypto/rand"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/guichet/guichet/eid/credential/base45"
	"github.com/guichet/guichet/eid/credential/cose"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// platform is a reference platform: a root key, credential-signing keys of
// both algorithms in a signed key set, and a verifier that loaded it.
type platform struct {
	root    crypto.Signer
	es, ed  crypto.Signer // credential-signing keys in the key set
	issuers map[cose.Algorithm]*Issuer
	keySet  []byte
	v       *Verifier
}

func mustKey(t testing.TB, alg cose.Algorithm) crypto.Signer {
	t.Helper()
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustKid(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	kid, err := KeyID(pub)
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

func newPlatform(t testing.TB, opts Options) *platform {
	t.Helper()
	p := &platform{root: mustKey(t, cose.ES256), es: mustKey(t, cose.ES256), ed: mustKey(t, cose.EdDSA)}
	p.issuers = map[cose.Algorithm]*Issuer{
		cose.ES256: {Signer: p.es, Name: "GZ-PSB", Now: func() time.Time { return t0.Add(-time.Hour) }},
		cose.EdDSA: {Signer: p.ed, Name: "GZ-PSB", Now: func() time.Time { return t0.Add(-time.Hour) }},
	}
	ks := KeySet{Seq: 1, IssuedAt: t0.Add(-48 * time.Hour)}
	for _, k := range []crypto.Signer{p.es, p.ed} {
		ks.Keys = append(ks.Keys, Key{ID: mustKid(t, k.Public()), Public: k.Public(),
			NotBefore: t0.AddDate(0, -1, 0), NotAfter: t0.AddDate(1, 0, 0)})
	}
	var err error
	if p.keySet, err = SignKeySet(p.root, ks); err != nil {
		t.Fatal(err)
	}
	if p.v, err = NewVerifier(p.root.Public(), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := p.v.SetKeySet(p.keySet); err != nil {
		t.Fatal(err)
	}
	return p
}

// typical is a credential as the platform issues it for a full e-ID.
func typical() Credential {
	yes := true
	return Credential{
		Level:     Full,
		Subject:   "P7K2M9QX4WDT3HNB6RFA", // 20 characters of a base32 pseudonym
		Name:      "ZHANG Xiaoming",
		AgeOver18: &yes,
		Expires:   t0.Add(23 * time.Hour),
	}
}

func (p *platform) issue(t testing.TB, alg cose.Algorithm, c Credential) string {
	t.Helper()
	text, err := p.issuers[alg].Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// rawSign1 is a COSE_Sign1 taken apart, for tests that alter a code.
type rawSign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected cbor.RawMessage
	Payload     []byte
	Signature   []byte
}

// open undoes the text layers of a code that the tests made.
func open(t testing.TB, text string) rawSign1 {
	t.Helper()
	raw, err := unwrap(DefaultPrefix, text)
	if err != nil {
		t.Fatal(err)
	}
	var tag cbor.RawTag
	if err := cbor.Unmarshal(raw, &tag); err != nil {
		t.Fatal(err)
	}
	var m rawSign1
	if err := cbor.Unmarshal(tag.Content, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// seal puts a COSE_Sign1 back into a code.
func seal(t testing.TB, m rawSign1) string {
	t.Helper()
	b, err := cbor.Marshal(cbor.Tag{Number: 18, Content: m})
	if err != nil {
		t.Fatal(err)
	}
	return wrapRaw(t, b)
}

// wrapRaw compresses and encodes any bytes as a code.
func wrapRaw(t testing.TB, b []byte) string {
	t.Helper()
	text, err := wrap(DefaultPrefix, b)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// deflate returns the zlib stream of b.
func deflate(b []byte) []byte {
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func b45(b []byte) string { return DefaultPrefix + base45.Encode(b) }

// signRaw signs any payload with k under kid, as a key of the platform gone
// wrong would.
func signRaw(t testing.TB, k crypto.Signer, kid, payload []byte) string {
	t.Helper()
	msg, err := cose.Sign(rand.Reader, k, cose.Headers{KeyID: kid}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return wrapRaw(t, msg)
}
