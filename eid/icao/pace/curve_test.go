package pace

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"
)

// TestCurveConstants checks each curve's constants against each other:
// G lies on the curve and n·G is the point at infinity, which a single
// wrong digit in p, a, b, G or n would break.
func TestCurveConstants(t *testing.T) {
	for id, c := range standardCurves {
		if !c.onCurve(c.gx, c.gy) {
			t.Errorf("%d %s: G is not on the curve", id, c.name)
		}
		if !c.n.ProbablyPrime(20) || !c.p.ProbablyPrime(20) {
			t.Errorf("%d %s: p or n is not prime", id, c.name)
		}
		if !c.mul(c.n, c.generator()).infinity() {
			t.Errorf("%d %s: n·G is not the point at infinity", id, c.name)
		}
		nm1 := new(big.Int).Sub(c.n, big.NewInt(1))
		if p := c.mul(nm1, c.generator()); p.infinity() || p.x.Cmp(c.gx) != 0 || new(big.Int).Add(p.y, c.gy).Cmp(c.p) != 0 {
			t.Errorf("%d %s: (n-1)·G is not -G", id, c.name)
		}
	}
}

// TestNISTAgainstStandardLibrary compares the generic arithmetic, with
// a = p - 3, with crypto/ecdh on the NIST curves it implements.
func TestNISTAgainstStandardLibrary(t *testing.T) {
	for _, tt := range []struct {
		c *curve
		e ecdh.Curve
	}{{p256, ecdh.P256()}, {p384, ecdh.P384()}, {p521, ecdh.P521()}} {
		for range 5 {
			a, _ := tt.e.GenerateKey(rand.Reader)
			b, _ := tt.e.GenerateKey(rand.Reader)
			ka := new(big.Int).SetBytes(a.Bytes())
			pubA := tt.c.encode(tt.c.mul(ka, tt.c.generator()))
			if string(pubA) != string(a.PublicKey().Bytes()) {
				t.Fatalf("%s: k·G differs from crypto/ecdh", tt.c.name)
			}
			pb, err := tt.c.decode(b.PublicKey().Bytes())
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.c.sharedSecret(ka, pb)
			want, _ := a.ECDH(b.PublicKey())
			if err != nil || string(got) != string(want) {
				t.Fatalf("%s: shared secret differs from crypto/ecdh: %v", tt.c.name, err)
			}
		}
	}
}

func TestPointArithmeticEdges(t *testing.T) {
	c := brainpoolP256r1
	g := c.generator()
	neg := point{g.x, new(big.Int).Sub(c.p, g.y)}
	if !c.sum(g, neg).infinity() {
		t.Error("G + (-G) is not infinity")
	}
	two := c.mul(big.NewInt(2), g)
	if s := c.sum(g, g); s.x.Cmp(two.x) != 0 || s.y.Cmp(two.y) != 0 {
		t.Error("G + G differs from 2·G")
	}
	if s := c.sum(point{}, g); s.x.Cmp(g.x) != 0 {
		t.Error("O + G differs from G")
	}
	if !c.mul(big.NewInt(0), g).infinity() {
		t.Error("0·G is not infinity")
	}
	if _, err := c.mapGenerator(make([]byte, 16), point{}); !errors.Is(err, ErrBadPoint) {
		t.Errorf("H at infinity: %v", err)
	}
	// s·G + H = O when H = -s·G: the chip must not accept that mapping.
	s := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}
	sg := c.mul(big.NewInt(7), g)
	if _, err := c.mapGenerator(s, point{sg.x, new(big.Int).Sub(c.p, sg.y)}); !errors.Is(err, ErrBadPoint) {
		t.Errorf("G' at infinity: %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	c := brainpoolP256r1
	good := c.encode(c.generator())
	offCurve := append([]byte(nil), good...)
	offCurve[64] ^= 1
	big := append([]byte{0x04}, c.p.FillBytes(make([]byte, 32))...)
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
		"P-256 point on bp256": p256.encode(p256.generator()),
	} {
		if _, err := c.decode(b); !errors.Is(err, ErrBadPoint) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.decode(good); err != nil {
		t.Errorf("G: %v", err)
	}
}

func TestPrivateKeyRange(t *testing.T) {
	c := p521
	k, err := c.privateKey(rand.Reader)
	if err != nil || k.Sign() <= 0 || k.Cmp(c.n) >= 0 {
		t.Fatalf("P-521 key %v %v", k, err)
	}
	// A source of zeros never gives a key.
	if _, err := brainpoolP256r1.privateKey(zeros{}); err == nil {
		t.Error("zero key accepted")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
