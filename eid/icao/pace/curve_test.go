package pace

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"

	"github.com/guichet/guichet/eid/icao/ecc"
)

// TestNISTAgainstStandardLibrary compares the generic arithmetic, with
// a = p - 3, with crypto/ecdh on the NIST curves it implements.
func TestNISTAgainstStandardLibrary(t *testing.T) {
	for _, tt := range []struct {
		c *ecc.Curve
		e ecdh.Curve
	}{{ecc.P256, ecdh.P256()}, {ecc.P384, ecdh.P384()}, {ecc.P521, ecdh.P521()}} {
		for range 5 {
			a, _ := tt.e.GenerateKey(rand.Reader)
			b, _ := tt.e.GenerateKey(rand.Reader)
			ka := new(big.Int).SetBytes(a.Bytes())
			pubA := tt.c.Encode(tt.c.Mul(ka, tt.c.Generator()))
			if string(pubA) != string(a.PublicKey().Bytes()) {
				t.Fatalf("%s: k·G differs from crypto/ecdh", tt.c.Name)
			}
			pb, err := tt.c.Decode(b.PublicKey().Bytes())
			if err != nil {
				t.Fatal(err)
			}
			got, err := sharedSecret(tt.c, ka, pb)
			want, _ := a.ECDH(b.PublicKey())
			if err != nil || string(got) != string(want) {
				t.Fatalf("%s: shared secret differs from crypto/ecdh: %v", tt.c.Name, err)
			}
		}
	}
}

func TestMapGeneratorEdges(t *testing.T) {
	c := ecc.BrainpoolP256r1
	g := c.Generator()
	if _, err := mapGenerator(c, make([]byte, 16), ecc.Point{}); !errors.Is(err, ErrBadPoint) {
		t.Errorf("H at infinity: %v", err)
	}
	// s·G + H = O when H = -s·G: the chip must not accept that mapping.
	s := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}
	sg := c.Mul(big.NewInt(7), g)
	if _, err := mapGenerator(c, s, ecc.Point{X: sg.X, Y: new(big.Int).Sub(c.P, sg.Y)}); !errors.Is(err, ErrBadPoint) {
		t.Errorf("G' at infinity: %v", err)
	}
}
