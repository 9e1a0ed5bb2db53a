package credential

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/guichet/guichet/eid/credential/cose"
	"github.com/guichet/guichet/internal/benchfig"
)

// medianMicros runs f n times and returns the median duration in
// microseconds.
func medianMicros(b *testing.B, n int, f func()) float64 {
	b.Helper()
	d := make([]time.Duration, n)
	for i := range d {
		start := time.Now()
		f()
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return float64(d[n/2].Nanoseconds()) / 1e3
}

// BenchmarkVerify reports eid_verify_us, the median time to verify one
// ES256 code against a 10,000-entry revocation list, next to its anchor
// ecdsa_p256_verify_us, one bare ECDSA P-256 verification measured in the
// same run: the difference is what Base45, zlib, CBOR and the checks cost.
func BenchmarkVerify(b *testing.B) {
	p := newPlatform(b, Options{Require: Full})
	rl := RevocationList{Seq: 1, IssuedAt: t0}
	for i := 0; i < 10000; i++ {
		rl.Revoke([]byte{byte(i), byte(i >> 8)})
	}
	signed, err := SignRevocations(p.root, rl)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := p.v.SetRevocations(signed); err != nil {
		b.Fatal(err)
	}
	code := p.issue(b, cose.ES256, typical())
	if _, err := p.v.Verify(code, t0); err != nil {
		b.Fatal(err)
	}

	key := p.es.(*ecdsa.PrivateKey)
	digest := sha256.Sum256([]byte("anchor"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}

	const n = 500
	for i := 0; i < b.N; i++ {
		anchor := medianMicros(b, n, func() {
			if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
				b.Fatal("anchor signature does not verify")
			}
		})
		verify := medianMicros(b, n, func() {
			if _, err := p.v.Verify(code, t0); err != nil {
				b.Fatal(err)
			}
		})
		benchfig.Report(b, "ecdsa_p256_verify_us", anchor, "us")
		benchfig.Report(b, "eid_verify_us", verify, "us")
	}
}
