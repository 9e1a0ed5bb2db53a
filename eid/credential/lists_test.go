package credential

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/guichet/guichet/eid/credential/cose"
)

// resealList re-encodes a signed list after f changed its parts; the
// signature is left as it was.
func resealList(t *testing.T, signed []byte, f func(*rawSign1)) []byte {
	t.Helper()
	var tag cbor.RawTag
	if err := cbor.Unmarshal(signed, &tag); err != nil {
		t.Fatal(err)
	}
	var m rawSign1
	if err := cbor.Unmarshal(tag.Content, &m); err != nil {
		t.Fatal(err)
	}
	f(&m)
	return mustCBOR(t, cbor.Tag{Number: 18, Content: m})
}

func TestKeySetLoader(t *testing.T) {
	p := newPlatform(t, Options{})
	ks, err := ParseKeySet(p.keySet, p.root.Public())
	if err != nil {
		t.Fatal(err)
	}
	if ks.Seq != 1 || len(ks.Keys) != 2 || !ks.Keys[1].NotAfter.Equal(t0.AddDate(1, 0, 0)) || cose.Key(cose.Key{Public: ks.Keys[1].Public}).Alg() != cose.EdDSA {
		t.Fatalf("parsed %+v", ks)
	}

	otherRoot := mustKey(t, cose.EdDSA)
	payload := open2(t, p.keySet).Payload
	resigned, err := SignKeySet(otherRoot, *ks)
	if err != nil {
		t.Fatal(err)
	}
	// Another key claiming the root's kid.
	rootKid := mustKid(t, p.root.Public())
	impostor, err := cose.Sign(rand.Reader, otherRoot, cose.Headers{KeyID: rootKid, ContentType: ContentTypeKeySet}, payload)
	if err != nil {
		t.Fatal(err)
	}
	// One more key slipped into the set after signing.
	extra := *ks
	extra.Keys = append(extra.Keys, Key{ID: []byte("evil"), Public: otherRoot.Public(), NotBefore: t0, NotAfter: t0.AddDate(1, 0, 0)})
	extraSigned, _ := SignKeySet(otherRoot, extra)
	altered := resealList(t, p.keySet, func(m *rawSign1) { m.Payload = open2(t, extraSigned).Payload })
	// A revocation list is signed by the same root but is not a key set.
	rl, _ := SignRevocations(p.root, RevocationList{Seq: 5, IssuedAt: t0})
	// Content type only in the unprotected header.
	ctUnprotected, _ := cose.SignHeaders(rand.Reader, p.root, cose.Headers{KeyID: rootKid}, cose.Headers{ContentType: ContentTypeKeySet}, payload)
	dupKid := func() []byte {
		w := keySetWire{Seq: 2, IssuedAt: t0.Unix()}
		for i := 0; i < 2; i++ {
			w.Keys = append(w.Keys, keyEntry{Key: cose.Key{ID: []byte("same"), Public: p.es.Public()}, NotBefore: 1, NotAfter: 2})
		}
		b, _ := signList(p.root, ContentTypeKeySet, mustCBOR(t, w))
		return b
	}()

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"unsigned", payload, ErrListMalformed},
		{"empty", nil, ErrListMalformed},
		{"garbage", []byte("garbage"), ErrListMalformed},
		{"truncated", p.keySet[:len(p.keySet)-10], ErrListMalformed},
		{"10 MB of junk", bytes.Repeat([]byte{0x9b}, 10<<20), ErrListMalformed},
		{"oversized", make([]byte, MaxListSize+1), ErrListMalformed},
		{"re-signed by another root", resigned, ErrListSignature},
		{"another key under the root's kid", impostor, ErrListSignature},
		{"altered", altered, ErrListSignature},
		{"revocation list as key set", rl, ErrListMalformed},
		{"content type unprotected", ctUnprotected, ErrListMalformed},
		{"duplicate kid", dupKid, ErrListMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := p.v.SetKeySet(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("SetKeySet = %v, want %v", err, tt.want)
			}
		})
	}
	// The loaded set is still the good one.
	if _, err := p.v.Verify(p.issue(t, cose.EdDSA, typical()), t0); err != nil {
		t.Fatal(err)
	}

	// Rollback: a new set without the EdDSA key, then the old one again.
	code := p.issue(t, cose.EdDSA, typical())
	next := *ks
	next.Seq, next.Keys = 2, ks.Keys[:1]
	nextSigned, err := SignKeySet(p.root, next)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.v.SetKeySet(nextSigned); err != nil {
		t.Fatal(err)
	}
	if _, err := p.v.Verify(code, t0); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("code of a dropped key: %v", err)
	}
	if _, err := p.v.SetKeySet(p.keySet); !errors.Is(err, ErrRollback) {
		t.Fatalf("older key set: %v", err)
	}
	sameSeq, _ := SignKeySet(p.root, next) // same content, new signature
	if _, err := p.v.SetKeySet(sameSeq); !errors.Is(err, ErrRollback) {
		t.Fatalf("other key set with the same sequence: %v", err)
	}
	if _, err := p.v.SetKeySet(nextSigned); err != nil {
		t.Fatalf("same key set again: %v", err)
	}
	if _, err := p.v.Verify(code, t0); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("after the refused rollback: %v", err)
	}
}

// open2 takes apart a signed list.
func open2(t *testing.T, signed []byte) rawSign1 {
	var m rawSign1
	resealList(t, signed, func(r *rawSign1) { m = *r })
	return m
}

func TestRevocationLoader(t *testing.T) {
	p := newPlatform(t, Options{})
	code := p.issue(t, cose.ES256, typical())
	cti := open(t, code).cti(t)

	rl := RevocationList{Seq: 7, IssuedAt: t0.Add(-time.Hour)}
	rl.Revoke(cti)
	rl.Revoke(cti) // twice: SignRevocations deduplicates
	for i := 0; i < 1000; i++ {
		rl.Revoke([]byte{byte(i), byte(i >> 8)})
	}
	signed, err := SignRevocations(p.root, rl)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRevocations(signed, p.root.Public())
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != 7 || len(got.Revoked) != 1001 || !got.IssuedAt.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("parsed seq %d, %d entries, %s", got.Seq, len(got.Revoked), got.IssuedAt)
	}

	rootKid := mustKid(t, p.root.Public())
	otherRoot := mustKey(t, cose.ES256)
	resigned, _ := SignRevocations(otherRoot, rl)
	payload := open2(t, signed).Payload
	emptied := resealList(t, signed, func(m *rawSign1) {
		m.Payload = mustCBOR(t, revocationsWire{Seq: 7, IssuedAt: rl.IssuedAt.Unix(), Revoked: []byte{}})
	})
	signPayload := func(w revocationsWire) []byte {
		b, err := signList(p.root, ContentTypeRevocations, mustCBOR(t, w))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	h1, h2 := RevocationHash([]byte("a")), RevocationHash([]byte("b"))
	if bytes.Compare(h1, h2) > 0 {
		h1, h2 = h2, h1
	}
	impostor, _ := cose.Sign(rand.Reader, otherRoot, cose.Headers{KeyID: rootKid, ContentType: ContentTypeRevocations}, payload)

	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"unsigned", payload, ErrListMalformed},
		{"key set as revocation list", p.keySet, ErrListMalformed},
		{"re-signed by another root", resigned, ErrListSignature},
		{"another key under the root's kid", impostor, ErrListSignature},
		{"altered (emptied)", emptied, ErrListSignature},
		{"unsorted", signPayload(revocationsWire{Seq: 8, Revoked: slices.Concat(h2, h1)}), ErrListMalformed},
		{"repeated", signPayload(revocationsWire{Seq: 8, Revoked: slices.Concat(h1, h1)}), ErrListMalformed},
		{"short entry", signPayload(revocationsWire{Seq: 8, Revoked: slices.Concat(h1, h2[:8])}), ErrListMalformed},
		{"entries as an array", func() []byte {
			b, _ := signList(p.root, ContentTypeRevocations, mustCBOR(t, map[int]any{1: 8, 2: 0, 3: [][]byte{h1, h2}}))
			return b
		}(), ErrListMalformed},
		{"sequence 0", signPayload(revocationsWire{Seq: 0, Revoked: []byte{}}), ErrListMalformed},
		{"no entries field", signPayload(revocationsWire{Seq: 8}), ErrListMalformed},
		{"truncated", signed[:len(signed)/2], ErrListMalformed},
		{"10 MB of junk", bytes.Repeat([]byte("junk"), 10<<18), ErrListMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := p.v.SetRevocations(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("SetRevocations = %v, want %v", err, tt.want)
			}
		})
	}

	if _, _, err := p.v.SetRevocations(signed); err != nil {
		t.Fatal(err)
	}
	if _, err := p.v.Verify(code, t0); ReasonOf(err) != ReasonRevoked {
		t.Fatalf("revoked code: %v", err)
	}
	// An older list that does not name the code is a rollback.
	older, _ := SignRevocations(p.root, RevocationList{Seq: 6, IssuedAt: t0})
	if _, _, err := p.v.SetRevocations(older); !errors.Is(err, ErrRollback) {
		t.Fatalf("older list: %v", err)
	}
	sameSeq, _ := SignRevocations(p.root, RevocationList{Seq: 7, IssuedAt: t0})
	if _, _, err := p.v.SetRevocations(sameSeq); !errors.Is(err, ErrRollback) {
		t.Fatalf("other list with the same sequence: %v", err)
	}
	if _, err := p.v.Verify(code, t0); ReasonOf(err) != ReasonRevoked {
		t.Fatalf("after the refused rollback: %v", err)
	}
	// A newer list may un-revoke (a revocation made in error).
	newer, _ := SignRevocations(p.root, RevocationList{Seq: 8, IssuedAt: t0})
	if _, _, err := p.v.SetRevocations(newer); err != nil {
		t.Fatal(err)
	}
	if _, err := p.v.Verify(code, t0); err != nil {
		t.Fatalf("after the newer list: %v", err)
	}
}

// TestLargeRevocationList loads a list of a million entries: the size the
// limits are set for (a sixteenth of it under the race detector, which
// makes the full list take most of a minute on a shared machine).
func TestLargeRevocationList(t *testing.T) {
	if MaxRevoked*RevocationHashLen+1024 > MaxListSize {
		t.Fatalf("a full list of %d entries does not fit MaxListSize %d", MaxRevoked, MaxListSize)
	}
	n := MaxRevoked
	if raceEnabled {
		n /= 16
	}
	p := newPlatform(t, Options{})
	rl := RevocationList{Seq: 1, IssuedAt: t0}
	// Counters stand in for hashes: same size, already in order, cheap.
	rl.Revoked = make([][]byte, n)
	for i := range rl.Revoked {
		h := make([]byte, RevocationHashLen)
		binary.BigEndian.PutUint64(h[8:], uint64(i))
		rl.Revoked[i] = h
	}
	revoked, kept := p.issue(t, cose.ES256, typical()), p.issue(t, cose.ES256, typical())
	rl.Revoked[n/2] = RevocationHash(open(t, revoked).cti(t))
	signed, err := SignRevocations(p.root, rl)
	if err != nil {
		t.Fatal(err)
	}
	if len(signed) > MaxListSize {
		t.Fatalf("a full list is %d bytes, over MaxListSize", len(signed))
	}
	if _, _, err := p.v.SetRevocations(signed); err != nil {
		t.Fatal(err)
	}
	if _, err := p.v.Verify(revoked, t0); ReasonOf(err) != ReasonRevoked {
		t.Fatalf("revoked code: %v", err)
	}
	if _, err := p.v.Verify(kept, t0); err != nil {
		t.Fatalf("code not on the list: %v", err)
	}
	got, err := ParseRevocations(signed, p.root.Public())
	if err != nil || len(got.Revoked) != n {
		t.Fatalf("parsed %d entries, %v", len(got.Revoked), err)
	}
	rl.Revoked = make([][]byte, MaxRevoked+1)
	if _, err := SignRevocations(p.root, rl); err == nil {
		t.Fatal("signed a list over MaxRevoked")
	}
	rl.Revoked = [][]byte{{1, 2, 3}}
	if _, err := SignRevocations(p.root, rl); err == nil {
		t.Fatal("signed a list with a 3-byte entry")
	}
}
