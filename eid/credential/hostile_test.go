package credential

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/guichet/guichet/eid/credential/cose"
)

// TestHostileCodes feeds Verify what a camera pointed at anything may read.
func TestHostileCodes(t *testing.T) {
	p := newPlatform(t, Options{})
	esKid := mustKid(t, p.es.Public())
	deep := append([]byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa1, 0x05}, bytes.Repeat([]byte{0x81}, 10000)...)
	deepClaims := signRaw(t, p.es, esKid, append(bytes.Repeat([]byte{0x81}, 10000), 0))
	// Claims whose cti claims a 2^63-byte string.
	hugeClaims := signRaw(t, p.es, esKid, []byte{0xa1, 0x07, 0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	tests := []struct {
		name string
		text string
		want Reason
	}{
		{"10 MB of junk", strings.Repeat("junk", 10<<18), ReasonTooBig},
		{"10 MB of Base45 after the prefix", DefaultPrefix + strings.Repeat("0", 10<<20), ReasonTooBig},
		{"prefix only", DefaultPrefix, ReasonDecompress},
		{"NUL bytes", DefaultPrefix + "\x00\x00\x00", ReasonBadBase45},
		{"UTF-8", DefaultPrefix + "身份证", ReasonBadBase45},
		{"deep CBOR nesting", wrapRaw(t, deep), ReasonMalformedCOSE},
		{"huge array length", wrapRaw(t, []byte{0xd2, 0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), ReasonMalformedCOSE},
		{"huge bstr length", wrapRaw(t, []byte{0xd2, 0x84, 0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), ReasonMalformedCOSE},
		{"huge map length", wrapRaw(t, []byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), ReasonMalformedCOSE},
		{"deep nesting in signed claims", deepClaims, ReasonMalformedClaims},
		{"huge length in signed claims", hugeClaims, ReasonMalformedClaims},
		{"CBOR of 10 kB zeros", wrapRaw(t, make([]byte, 10<<10)), ReasonMalformedCOSE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.v.Verify(tt.text, t0)
			if err == nil {
				t.Fatalf("accepted: %+v", res)
			}
			if ReasonOf(err) != tt.want {
				t.Fatalf("refused with %v, want %s", err, tt.want)
			}
		})
	}

	// Every truncation of a good code is refused, by one of the layers
	// that come before the signature.
	good := p.issue(t, cose.ES256, typical())
	for n := 0; n < len(good); n++ {
		_, err := p.v.Verify(good[:n], t0)
		switch ReasonOf(err) {
		case ReasonBadPrefix, ReasonBadBase45, ReasonDecompress:
		default:
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	// Every single-character change of the Base45 body is refused too; none
	// gets past the signature.
	for i := len(DefaultPrefix); i < len(good); i++ {
		for _, c := range []byte{'0', 'Z', ':'} {
			if good[i] == c {
				continue
			}
			mutated := good[:i] + string(c) + good[i+1:]
			if res, err := p.v.Verify(mutated, t0); err == nil {
				// Deflate ignores the padding bits of its last byte, so a
				// change there inflates to the very same signed message:
				// nothing was altered. Anything else must be refused.
				a, errA := unwrap(DefaultPrefix, mutated)
				b, _ := unwrap(DefaultPrefix, good)
				if errA != nil || !bytes.Equal(a, b) {
					t.Fatalf("character %d changed to %q accepted: %+v", i, c, res)
				}
			}
		}
	}
}

func FuzzVerify(f *testing.F) {
	p := newPlatform(f, Options{})
	good := p.issue(f, cose.ES256, typical())
	revoked := p.issue(f, cose.ES256, typical())
	rl := RevocationList{Seq: 1, IssuedAt: t0}
	rl.Revoke(open(f, revoked).cti(f))
	for i := 0; i < 100; i++ {
		rl.Revoke([]byte{byte(i)})
	}
	signed, err := SignRevocations(p.root, rl)
	if err != nil {
		f.Fatal(err)
	}
	if _, _, err := p.v.SetRevocations(signed); err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(revoked)
	f.Add(p.issue(f, cose.EdDSA, typical()))
	f.Add(good[:len(good)/2])
	f.Add(DefaultPrefix)
	f.Add("HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH")
	f.Add(wrapRaw(f, []byte{0xd2, 0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x41, 0x00, 0x40}))
	f.Add(b45(deflate(make([]byte, 1<<20))))
	f.Fuzz(func(t *testing.T, text string) {
		res, err := p.v.Verify(text, t0)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		// Only codes the platform signed get through: that is, the
		// fuzzer may find other spellings of the seeds, never new claims.
		if !res.Level.Valid() || res.Subject != typical().Subject {
			t.Fatalf("accepted %q: %+v", text, res)
		}
	})
}

func FuzzLists(f *testing.F) {
	p := newPlatform(f, Options{})
	rl := RevocationList{Seq: 3, IssuedAt: t0}
	rl.Revoke([]byte("a"))
	rl.Revoke([]byte("b"))
	signed, err := SignRevocations(p.root, rl)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(p.keySet)
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	root := p.root.Public()
	f.Fuzz(func(t *testing.T, data []byte) {
		if ks, err := ParseKeySet(data, root); err == nil {
			if ks.Seq == 0 || len(ks.Keys) > MaxKeys {
				t.Fatalf("accepted key set %+v", ks)
			}
		} else if !errors.Is(err, ErrListMalformed) && !errors.Is(err, ErrListSignature) {
			t.Fatalf("key set error %v of no kind", err)
		}
		if rl, err := ParseRevocations(data, root); err == nil {
			for _, h := range rl.Revoked {
				if len(h) != RevocationHashLen {
					t.Fatalf("accepted entry %x", h)
				}
			}
		} else if !errors.Is(err, ErrListMalformed) && !errors.Is(err, ErrListSignature) {
			t.Fatalf("revocation list error %v of no kind", err)
		}
	})
}

// TestConcurrentUpdate verifies while the sync replaces the lists, for the
// race detector.
func TestConcurrentUpdate(t *testing.T) {
	p := newPlatform(t, Options{})
	code := p.issue(t, cose.ES256, typical())
	cti := open(t, code).cti(t)
	lists := make([][]byte, 20)
	for i := range lists {
		rl := RevocationList{Seq: uint64(i + 1), IssuedAt: t0}
		if i%2 == 1 {
			rl.Revoke(cti)
		}
		var err error
		if lists[i], err = SignRevocations(p.root, rl); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, l := range lists {
			if _, _, err := p.v.SetRevocations(l); err != nil {
				t.Error(err)
				return
			}
			if _, err := p.v.SetKeySet(p.keySet); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		if _, err := p.v.Verify(code, t0); err != nil && ReasonOf(err) != ReasonRevoked {
			t.Fatalf("Verify during updates: %v", err)
		}
	}
	if _, err := p.v.Verify(code, t0); ReasonOf(err) != ReasonRevoked {
		t.Fatalf("after the last list (which revokes): %v", err)
	}
}
