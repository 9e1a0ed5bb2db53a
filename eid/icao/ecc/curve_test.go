package ecc

import (
	"crypto/rand"
	"errors"
	"math/big"
	"testing"
)

// TestCurveConstants checks each curve's constants against each other:
// G lies on the curve and n·G is the point at infinity, which a single
// wrong digit in p, a, b, G or n would break.
func TestCurveConstants(t *testing.T) {
	for id, c := range Curves() {
		if !c.OnCurve(c.Gx, c.Gy) {
			t.Errorf("%d %s: G is not on the curve", id, c.Name)
		}
		if !c.N.ProbablyPrime(20) || !c.P.ProbablyPrime(20) {
			t.Errorf("%d %s: p or n is not prime", id, c.Name)
		}
		if !c.Mul(c.N, c.Generator()).Infinity() {
			t.Errorf("%d %s: n·G is not the point at infinity", id, c.Name)
		}
		nm1 := new(big.Int).Sub(c.N, big.NewInt(1))
		if p := c.Mul(nm1, c.Generator()); p.Infinity() || p.X.Cmp(c.Gx) != 0 || new(big.Int).Add(p.Y, c.Gy).Cmp(c.P) != 0 {
			t.Errorf("%d %s: (n-1)·G is not -G", id, c.Name)
		}
	}
}

func TestPointArithmeticEdges(t *testing.T) {
	c := BrainpoolP256r1
	g := c.Generator()
	neg := Point{X: g.X, Y: new(big.Int).Sub(c.P, g.Y)}
	if !c.Add(g, neg).Infinity() {
		t.Error("G + (-G) is not infinity")
	}
	two := c.Mul(big.NewInt(2), g)
	if s := c.Add(g, g); s.X.Cmp(two.X) != 0 || s.Y.Cmp(two.Y) != 0 {
		t.Error("G + G differs from 2·G")
	}
	if s := c.Add(Point{}, g); s.X.Cmp(g.X) != 0 {
		t.Error("O + G differs from G")
	}
	if !c.Mul(big.NewInt(0), g).Infinity() {
		t.Error("0·G is not infinity")
	}
}

func TestDecodeRejects(t *testing.T) {
	c := BrainpoolP256r1
	good := c.Encode(c.Generator())
	offCurve := append([]byte(nil), good...)
	offCurve[64] ^= 1
	big := append([]byte{0x04}, c.P.FillBytes(make([]byte, 32))...)
	big = append(big, good[33:]...)
	compressed := append([]byte{0x02}, good[1:33]...)
	for name, b := range map[string][]byte{
		"infinity (00)":        {0x00},
		"empty":                nil,
		"compressed":           compressed,
		"off the curve":        offCurve,
		"x = p":                big,
		"truncated":            good[:64],
		"one byte too many":    append(append([]byte(nil), good...), 0),
		"P-256 point on bp256": P256.Encode(P256.Generator()),
	} {
		if _, err := c.Decode(b); !errors.Is(err, ErrBadPoint) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.Decode(good); err != nil {
		t.Errorf("G: %v", err)
	}
}

func TestPrivateKeyRange(t *testing.T) {
	c := P521
	k, err := c.PrivateKey(rand.Reader)
	if err != nil || k.Sign() <= 0 || k.Cmp(c.N) >= 0 {
		t.Fatalf("P-521 key %v %v", k, err)
	}
	// A source of zeros never gives a key.
	if _, err := BrainpoolP256r1.PrivateKey(zeros{}); err == nil {
		t.Error("zero key accepted")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestOIDs checks the curves' object identifiers against RFC 5639 4.1 and
// RFC 5480 2.1.1.1, and that each names its curve back.
func TestOIDs(t *testing.T) {
	for c, want := range map[*Curve]string{
		BrainpoolP224r1: "1.3.36.3.3.2.8.1.1.5", BrainpoolP256r1: "1.3.36.3.3.2.8.1.1.7",
		BrainpoolP320r1: "1.3.36.3.3.2.8.1.1.9", BrainpoolP384r1: "1.3.36.3.3.2.8.1.1.11",
		BrainpoolP512r1: "1.3.36.3.3.2.8.1.1.13", P224: "1.3.132.0.33", P256: "1.2.840.10045.3.1.7",
		P384: "1.3.132.0.34", P521: "1.3.132.0.35",
	} {
		if got := c.OID().String(); got != want {
			t.Errorf("%s: OID %s, want %s", c.Name, got, want)
		}
		if back, err := CurveByOID(c.OID()); err != nil || back != c {
			t.Errorf("%s: CurveByOID = %v, %v", c.Name, back, err)
		}
	}
	if len(Curves()) != 9 {
		t.Errorf("%d curves", len(Curves()))
	}
}
