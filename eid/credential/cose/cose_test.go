package cose

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Key "11" of the COSE working group examples (github.com/cose-wg/Examples).
func exampleKey(t testing.TB) *ecdsa.PublicKey {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), unhex(t,
		"04bac5b11cad8f99f9c72b05cf4b9e26d244dc189f745228255a219a86d6a09eff"+
			"20138bf82dc1b6d562be0fa54ab7804a3a64b6d72ccfed6b6fb6ed28bbfc117e"))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// From cose-wg/Examples sign1-tests/sign-fail-02.json: the message as signed
// (payload "This is the content.") and as altered (last byte changed).
const (
	exampleSigned  = "D28443A10126A10442313154546869732069732074686520636F6E74656E742E5840EAE868ECC176883766C5DC5BA5B8DCA25DAB3C2E56A551CE5705B793914348E19F43D6C6BA654472DA301B645B293C9BA939295B97C4BDB847782BFF384C5794"
	exampleAltered = "D28443A10126A10442313154546869732069732074686520636F6E74656E742F5840EAE868ECC176883766C5DC5BA5B8DCA25DAB3C2E56A551CE5705B793914348E19F43D6C6BA654472DA301B645B293C9BA939295B97C4BDB847782BFF384C5794"
	exampleToBeSig = "846A5369676E61747572653143A101264054546869732069732074686520636F6E74656E742E"
	// sign-pass-01.json: alg only in the unprotected header, which this
	// profile refuses.
	exampleAlgUnprotected = "D28441A0A201260442313154546869732069732074686520636F6E74656E742E5840EAE868ECC176883766C5DC5BA5B8DCA25DAB3C2E56A551CE5705B793914348E11A02E5F0344BF2D4EE5C7FD75A68A9F5E0B3CC1F1FC1409C189566586FF9D610"
)

func TestCOSEWGExample(t *testing.T) {
	pub := exampleKey(t)
	m, err := Decode(unhex(t, exampleSigned))
	if err != nil {
		t.Fatal(err)
	}
	if m.Protected.Alg != ES256 || string(m.KeyID()) != "11" || string(m.Payload) != "This is the content." {
		t.Fatalf("decoded %+v", m)
	}
	tbs, err := sigStructure(m.rawProtected, m.Payload)
	if err != nil || !bytes.Equal(tbs, unhex(t, exampleToBeSig)) {
		t.Fatalf("Sig_structure = %X, %v\nwant %s", tbs, err, exampleToBeSig)
	}
	if err := m.Verify(pub); err != nil {
		t.Fatalf("Verify: %v", err)
	}

	altered, err := Decode(unhex(t, exampleAltered))
	if err != nil {
		t.Fatal(err)
	}
	if err := altered.Verify(pub); !errors.Is(err, ErrSignature) {
		t.Fatalf("Verify(altered) = %v, want ErrSignature", err)
	}

	if _, err := Decode(unhex(t, exampleAlgUnprotected)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "algorithm") {
		t.Fatalf("Decode(alg unprotected) = %v, want ErrMalformed about the algorithm", err)
	}
}

func TestSignVerify(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed2, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name    string
		alg     Algorithm
		signer  crypto.Signer
		sign    func(h Headers, p []byte) ([]byte, error)
		other   crypto.PublicKey // same type, other key
		foreign crypto.PublicKey // other algorithm
	}{
		{"ES256", ES256, ec, func(h Headers, p []byte) ([]byte, error) { return Sign(rand.Reader, ec, h, p) }, ec2.Public(), ed.Public()},
		{"EdDSA", EdDSA, ed, func(h Headers, p []byte) ([]byte, error) { return Sign(rand.Reader, ed, h, p) }, ed2.Public(), ec.Public()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := tc.sign(Headers{KeyID: []byte("k1"), ContentType: "application/test"}, []byte("payload"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			if m.Protected.Alg != tc.alg || string(m.KeyID()) != "k1" || m.Protected.ContentType != "application/test" || len(m.Signature) != 64 {
				t.Fatalf("decoded %+v", m)
			}
			if err := m.Verify(tc.signer.Public()); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := m.Verify(tc.other); !errors.Is(err, ErrSignature) {
				t.Fatalf("Verify(other key) = %v", err)
			}
			if err := m.Verify(tc.foreign); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "algorithm") {
				t.Fatalf("Verify(key of another algorithm) = %v", err)
			}
			m.Payload = []byte("payloae")
			if err := m.Verify(tc.signer.Public()); !errors.Is(err, ErrSignature) {
				t.Fatalf("Verify(altered payload) = %v", err)
			}
		})
	}
	if _, err := Sign(rand.Reader, ec, Headers{Alg: EdDSA}, nil); err == nil {
		t.Fatal("Sign with an EdDSA header and an ECDSA key succeeded")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := Sign(rand.Reader, p384, Headers{}, nil); err == nil {
		t.Fatal("Sign with a P-384 key succeeded")
	}
}

// cborHex encodes v with the deterministic encoder, for building hostile
// messages from parts.
func cborHex(t *testing.T, v any) []byte {
	t.Helper()
	b, err := encMode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeHostile(t *testing.T) {
	protES256 := cborHex(t, map[int]any{1: -7})
	sig := make([]byte, 64)
	tagged := func(content any) []byte { return cborHex(t, cbor.Tag{Number: 18, Content: content}) }
	deep := bytes.Repeat([]byte{0x81}, 10000) // [[[[...
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "EOF"},
		{"garbage", []byte("hello, world"), ""},
		{"10 MB of junk", bytes.Repeat([]byte{0xd2, 0x84}, 5<<20), ""},
		{"untagged", cborHex(t, []any{protES256, map[int]any{}, []byte("p"), sig}), ""},
		{"tag 17 (COSE_Mac0)", cborHex(t, cbor.Tag{Number: 17, Content: []any{protES256, map[int]any{}, []byte("p"), sig}}), "tag 17"},
		{"three elements", tagged([]any{protES256, map[int]any{}, []byte("p")}), "different number"},
		{"five elements", tagged([]any{protES256, map[int]any{}, []byte("p"), sig, 1}), "different number"},
		{"null payload", tagged([]any{protES256, map[int]any{}, nil, sig}), "payload"},
		{"no alg", tagged([]any{cborHex(t, map[int]any{4: []byte("k")}), map[int]any{}, []byte("p"), sig}), "no algorithm"},
		{"alg unprotected", tagged([]any{protES256, map[int]any{1: -7}, []byte("p"), sig}), "unprotected"},
		{"alg as text", tagged([]any{cborHex(t, map[int]any{1: "ES256"}), map[int]any{}, []byte("p"), sig}), "alg"},
		{"crit", tagged([]any{cborHex(t, map[int]any{1: -7, 2: []int{99}}), map[int]any{}, []byte("p"), sig}), "critical"},
		{"kid in both", tagged([]any{cborHex(t, map[int]any{1: -7, 4: []byte("a")}), map[int]any{4: []byte("b")}, []byte("p"), sig}), "both"},
		{"empty kid", tagged([]any{protES256, map[int]any{4: []byte{}}, []byte("p"), sig}), "kid"},
		{"huge kid", tagged([]any{protES256, map[int]any{4: make([]byte, 1000)}, []byte("p"), sig}), "kid"},
		{"text label", tagged([]any{protES256, map[string]any{"kid": "x"}, []byte("p"), sig}), ""},
		{"label beyond int64", append(tagged([]any{protES256, map[int]any{}, []byte("p"), sig})[:0:0],
			append([]byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa1, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xfb, 0x00, 0x41, 'p', 0x58, 0x40}, sig...)...), ""},
		{"protected not a map", tagged([]any{cborHex(t, []int{1, -7}), map[int]any{}, []byte("p"), sig}), "protected"},
		{"protected with trailing bytes", tagged([]any{append(protES256, 0), map[int]any{}, []byte("p"), sig}), "protected"},
		{"duplicate unprotected key", append([]byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa2, 0x04, 0x41, 'a', 0x04, 0x41, 'b', 0x41, 'p', 0x58, 0x40}, sig...), "duplicate"},
		{"indefinite-length payload", append([]byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x5f, 0x41, 'p', 0xff, 0x58, 0x40}, sig...), "indefinite"},
		{"huge bstr length", []byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, ""},
		{"huge array length", []byte{0xd2, 0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ""},
		{"deep nesting", append([]byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa1, 0x05}, deep...), "nested"},
		{"nested tag", tagged([]any{protES256, map[int]any{5: cbor.Tag{Number: 1, Content: 0}}, []byte("p"), sig}), "tag"},
		{"trailing data", append(tagged([]any{protES256, map[int]any{}, []byte("p"), sig}), 0x00), "extraneous"},
		{"truncated", tagged([]any{protES256, map[int]any{}, []byte("p"), sig})[:40], "EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(tt.in)
			if err == nil {
				t.Fatalf("Decode accepted it: %+v", m)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestKeyRoundTrip(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, k := range []Key{{ID: []byte("ec"), Public: &ec.PublicKey}, {ID: []byte("ed"), Public: edPub}} {
		raw, err := cbor.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		var got Key
		if err := cbor.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.ID, k.ID) || !got.Public.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public) {
			t.Fatalf("round trip of %s: %+v", k.ID, got)
		}
	}
	// The example key as COSE_Key: EC2, P-256.
	pub := exampleKey(t)
	b, _ := pub.Bytes()
	bad := append([]byte(nil), b[33:]...)
	bad[31] ^= 1
	tests := []struct {
		name string
		in   any
	}{
		{"point not on curve", map[int]any{1: 2, 2: []byte("k"), -1: 1, -2: b[1:33], -3: bad}},
		{"short x", map[int]any{1: 2, 2: []byte("k"), -1: 1, -2: b[1:32], -3: b[33:]}},
		{"P-384", map[int]any{1: 2, 2: []byte("k"), -1: 2, -2: b[1:33], -3: b[33:]}},
		{"no kid", map[int]any{1: 2, -1: 1, -2: b[1:33], -3: b[33:]}},
		{"alg mismatch", map[int]any{1: 2, 2: []byte("k"), 3: -8, -1: 1, -2: b[1:33], -3: b[33:]}},
		{"Ed448", map[int]any{1: 1, 2: []byte("k"), -1: 7, -2: make([]byte, 57)}},
		{"Ed25519 with y", map[int]any{1: 1, 2: []byte("k"), -1: 6, -2: make([]byte, 32), -3: make([]byte, 32)}},
		{"symmetric", map[int]any{1: 4, 2: []byte("k"), -1: make([]byte, 32)}},
		{"not a map", []int{1, 2}},
	}
	for _, tt := range tests {
		var k Key
		if err := k.UnmarshalCBOR(cborHex(t, tt.in)); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	var k Key
	if err := k.UnmarshalCBOR(cborHex(t, map[int]any{1: 2, 2: []byte("11"), 3: -7, -1: 1, -2: b[1:33], -3: b[33:]})); err != nil || !k.Public.(*ecdsa.PublicKey).Equal(pub) || k.Alg() != ES256 {
		t.Fatalf("example key: %v %+v", err, k)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{exampleSigned, exampleAltered, exampleAlgUnprotected} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	pub := exampleKey(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if m.Protected.Alg == 0 || len(m.KeyID()) > MaxKeyIDLen {
			t.Fatalf("accepted %+v", m)
		}
		_ = m.Verify(pub)
	})
}

func TestKidUnprotected(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	raw, err := SignHeaders(rand.Reader, ed, Headers{}, Headers{KeyID: []byte("u")}, []byte("p"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.KeyID()) != "u" || m.Protected.KeyID != nil {
		t.Fatalf("kid: %+v", m)
	}
	if err := m.Verify(ed.Public()); err != nil {
		t.Fatal(err)
	}
	if _, err := SignHeaders(rand.Reader, ed, Headers{KeyID: []byte("a")}, Headers{KeyID: []byte("b")}, nil); err == nil {
		t.Fatal("kid in both buckets accepted")
	}
	if _, err := SignHeaders(rand.Reader, ed, Headers{}, Headers{Alg: EdDSA}, nil); err == nil {
		t.Fatal("unprotected alg accepted")
	}
}
