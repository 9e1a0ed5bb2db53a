package ecc

import (
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// Curve is a short Weierstrass curve y² = x³ + ax + b over GF(p) with a
// base point G of prime order n and cofactor 1, as all the standardized
// domain parameters of Doc 9303 Part 11 9.5.1 are. crypto/elliptic only
// serves a = -3, which the brainpool curves of RFC 5639 are not, so the
// arithmetic is here, over math/big, not in constant time (see the
// package documentation).
type Curve struct {
	Name               string
	P, A, B, Gx, Gy, N *big.Int
	Size               int // bytes of a field element
}

// Point is an affine point; the point at infinity has X == nil.
type Point struct{ X, Y *big.Int }

// Infinity reports whether p is the point at infinity.
func (p Point) Infinity() bool { return p.X == nil }

func hexInt(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("ecc: bad curve constant " + s)
	}
	return v
}

func brainpool(name, p, a, b, gx, gy, n string) *Curve {
	c := &Curve{Name: name, P: hexInt(p), A: hexInt(a), B: hexInt(b), Gx: hexInt(gx), Gy: hexInt(gy), N: hexInt(n)}
	c.Size = (c.P.BitLen() + 7) / 8
	return c
}

// nist takes a NIST curve's constants from crypto/elliptic; its a is -3.
func nist(name string, e elliptic.Curve) *Curve {
	pr := e.Params()
	c := &Curve{Name: name, P: pr.P, A: new(big.Int).Sub(pr.P, big.NewInt(3)), B: pr.B, Gx: pr.Gx, Gy: pr.Gy, N: pr.N}
	c.Size = (c.P.BitLen() + 7) / 8
	return c
}

// The brainpool constants of RFC 5639 section 3.
var (
	BrainpoolP224r1 = brainpool("brainpoolP224r1",
		"D7C134AA264366862A18302575D1D787B09F075797DA89F57EC8C0FF",
		"68A5E62CA9CE6C1C299803A6C1530B514E182AD8B0042A59CAD29F43",
		"2580F63CCFE44138870713B1A92369E33E2135D266DBB372386C400B",
		"0D9029AD2C7E5CF4340823B2A87DC68C9E4CE3174C1E6EFDEE12C07D",
		"58AA56F772C0726F24C6B89E4ECDAC24354B9E99CAA3F6D3761402CD",
		"D7C134AA264366862A18302575D0FB98D116BC4B6DDEBCA3A5A7939F")
	BrainpoolP256r1 = brainpool("brainpoolP256r1",
		"A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377",
		"7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9",
		"26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6",
		"8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262",
		"547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997",
		"A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7")
	BrainpoolP320r1 = brainpool("brainpoolP320r1",
		"D35E472036BC4FB7E13C785ED201E065F98FCFA6F6F40DEF4F92B9EC7893EC28FCD412B1F1B32E27",
		"3EE30B568FBAB0F883CCEBD46D3F3BB8A2A73513F5EB79DA66190EB085FFA9F492F375A97D860EB4",
		"520883949DFDBC42D3AD198640688A6FE13F41349554B49ACC31DCCD884539816F5EB4AC8FB1F1A6",
		"43BD7E9AFB53D8B85289BCC48EE5BFE6F20137D10A087EB6E7871E2A10A599C710AF8D0D39E20611",
		"14FDD05545EC1CC8AB4093247F77275E0743FFED117182EAA9C77877AAAC6AC7D35245D1692E8EE1",
		"D35E472036BC4FB7E13C785ED201E065F98FCFA5B68F12A32D482EC7EE8658E98691555B44C59311")
	BrainpoolP384r1 = brainpool("brainpoolP384r1",
		"8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC53",
		"7BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F8AA5814A503AD4EB04A8C7DD22CE2826",
		"04A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D57CB4390295DBC9943AB78696FA504C11",
		"1D1C64F068CF45FFA2A63A81B7C13F6B8847A3E77EF14FE3DB7FCAFE0CBD10E8E826E03436D646AAEF87B2E247D4AF1E",
		"8ABE1D7520F9C2A45CB1EB8E95CFD55262B70B29FEEC5864E19C054FF99129280E4646217791811142820341263C5315",
		"8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565")
	BrainpoolP512r1 = brainpool("brainpoolP512r1",
		"AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA703308717D4D9B009BC66842AECDA12AE6A380E62881FF2F2D82C68528AA6056583A48F3",
		"7830A3318B603B89E2327145AC234CC594CBDD8D3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CA",
		"3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CADC083E67984050B75EBAE5DD2809BD638016F723",
		"81AEE4BDD82ED9645A21322E9C4C6A9385ED9F70B5D916C1B43B62EEF4D0098EFF3B1F78E2D0D48D50D1687B93B97D5F7C6D5047406A5E688B352209BCB9F822",
		"7DDE385D566332ECC0EABFA9CF7822FDF209F70024A57B1AA000C55B881F8111B2DCDE494A5F485E5BCA4BD88A2763AED1CA2B2FA8F0540678CD1E0F3AD80892",
		"AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069")
	P224 = nist("NIST P-224", elliptic.P224())
	P256 = nist("NIST P-256", elliptic.P256())
	P384 = nist("NIST P-384", elliptic.P384())
	P521 = nist("NIST P-521", elliptic.P521())
)

// ErrBadPoint is returned for a public key that is not a point of the
// curve, or is the point at infinity: accepting one would let the other
// side pick the shared secret (an invalid-curve attack).
var ErrBadPoint = errors.New("ecc: not a valid point of the curve")

// Generator returns the base point G.
func (c *Curve) Generator() Point { return Point{c.Gx, c.Gy} }

// OnCurve reports whether (x, y) is a point of c, coordinates in [0, p).
func (c *Curve) OnCurve(x, y *big.Int) bool {
	if x.Sign() < 0 || x.Cmp(c.P) >= 0 || y.Sign() < 0 || y.Cmp(c.P) >= 0 {
		return false
	}
	l := new(big.Int).Mul(y, y)
	l.Mod(l, c.P)
	r := new(big.Int).Mul(x, x)
	r.Add(r, c.A)
	r.Mul(r, x)
	r.Add(r, c.B)
	r.Mod(r, c.P)
	return l.Cmp(r) == 0
}

// Decode reads an uncompressed point 04 || X || Y (BSI TR-03111 3.2.1)
// and checks that it lies on the curve.
func (c *Curve) Decode(b []byte) (Point, error) {
	if len(b) != 1+2*c.Size || b[0] != 0x04 {
		return Point{}, fmt.Errorf("%w: %d bytes, want 04 and two coordinates of %d bytes on %s", ErrBadPoint, len(b), c.Size, c.Name)
	}
	x := new(big.Int).SetBytes(b[1 : 1+c.Size])
	y := new(big.Int).SetBytes(b[1+c.Size:])
	if !c.OnCurve(x, y) {
		return Point{}, fmt.Errorf("%w: not on %s", ErrBadPoint, c.Name)
	}
	return Point{x, y}, nil
}

// Encode writes p uncompressed, each coordinate on the field's length.
func (c *Curve) Encode(p Point) []byte {
	out := make([]byte, 1+2*c.Size)
	out[0] = 0x04
	p.X.FillBytes(out[1 : 1+c.Size])
	p.Y.FillBytes(out[1+c.Size:])
	return out
}

// jacobian is a point in Jacobian coordinates (X/Z², Y/Z³), which spare
// the modular inversion at every step; Z = 0 is the point at infinity.
type jacobian struct{ x, y, z *big.Int }

func (c *Curve) toJacobian(p Point) jacobian {
	if p.Infinity() {
		return jacobian{new(big.Int), new(big.Int), new(big.Int)}
	}
	return jacobian{new(big.Int).Set(p.X), new(big.Int).Set(p.Y), big.NewInt(1)}
}

func (c *Curve) toAffine(j jacobian) Point {
	if j.z.Sign() == 0 {
		return Point{}
	}
	zi := new(big.Int).ModInverse(j.z, c.P)
	zi2 := new(big.Int).Mul(zi, zi)
	x := new(big.Int).Mul(j.x, zi2)
	x.Mod(x, c.P)
	zi2.Mul(zi2, zi)
	y := new(big.Int).Mul(j.y, zi2)
	y.Mod(y, c.P)
	return Point{x, y}
}

func (c *Curve) mod(v *big.Int) *big.Int { return v.Mod(v, c.P) }

// double computes 2P for any a: S = 4XY², M = 3X² + aZ⁴,
// X' = M² - 2S, Y' = M(S - X') - 8Y⁴, Z' = 2YZ.
func (c *Curve) double(j jacobian) jacobian {
	if j.z.Sign() == 0 || j.y.Sign() == 0 {
		return jacobian{new(big.Int), new(big.Int), new(big.Int)}
	}
	yy := c.mod(new(big.Int).Mul(j.y, j.y))
	s := c.mod(new(big.Int).Lsh(new(big.Int).Mul(j.x, yy), 2))
	zz := c.mod(new(big.Int).Mul(j.z, j.z))
	m := new(big.Int).Mul(j.x, j.x)
	m.Mul(m, big.NewInt(3))
	az4 := c.mod(new(big.Int).Mul(zz, zz))
	az4.Mul(az4, c.A)
	m = c.mod(m.Add(m, az4))
	x := new(big.Int).Mul(m, m)
	x.Sub(x, new(big.Int).Lsh(s, 1))
	c.mod(x)
	y := new(big.Int).Sub(s, x)
	y.Mul(y, m)
	y8 := new(big.Int).Mul(yy, yy)
	y8.Lsh(y8, 3)
	c.mod(y.Sub(y, y8))
	z := new(big.Int).Mul(j.y, j.z)
	c.mod(z.Lsh(z, 1))
	return jacobian{x, y, z}
}

// add computes P + Q, falling back to double when P = Q.
func (c *Curve) add(p, q jacobian) jacobian {
	if p.z.Sign() == 0 {
		return q
	}
	if q.z.Sign() == 0 {
		return p
	}
	pz2 := c.mod(new(big.Int).Mul(p.z, p.z))
	qz2 := c.mod(new(big.Int).Mul(q.z, q.z))
	u1 := c.mod(new(big.Int).Mul(p.x, qz2))
	u2 := c.mod(new(big.Int).Mul(q.x, pz2))
	s1 := c.mod(new(big.Int).Mul(p.y, c.mod(qz2.Mul(qz2, q.z))))
	s2 := c.mod(new(big.Int).Mul(q.y, c.mod(pz2.Mul(pz2, p.z))))
	if u1.Cmp(u2) == 0 {
		if s1.Cmp(s2) != 0 {
			return jacobian{new(big.Int), new(big.Int), new(big.Int)}
		}
		return c.double(p)
	}
	h := c.mod(new(big.Int).Sub(u2, u1))
	r := c.mod(new(big.Int).Sub(s2, s1))
	h2 := c.mod(new(big.Int).Mul(h, h))
	h3 := c.mod(new(big.Int).Mul(h2, h))
	u1h2 := c.mod(new(big.Int).Mul(u1, h2))
	x := new(big.Int).Mul(r, r)
	x.Sub(x, h3)
	x.Sub(x, new(big.Int).Lsh(u1h2, 1))
	c.mod(x)
	y := new(big.Int).Sub(u1h2, x)
	y.Mul(y, r)
	y.Sub(y, new(big.Int).Mul(s1, h3))
	c.mod(y)
	z := new(big.Int).Mul(p.z, q.z)
	c.mod(z.Mul(z, h))
	return jacobian{x, y, z}
}

// Mul computes kP with a fixed window of 4 bits: 15 precomputed
// multiples, then four doublings and at most one addition per window,
// about a third fewer additions than bit-by-bit double-and-add.
func (c *Curve) Mul(k *big.Int, p Point) Point {
	const w = 4
	var table [1 << w]jacobian
	table[0] = c.toJacobian(Point{})
	table[1] = c.toJacobian(p)
	for i := 2; i < len(table); i++ {
		table[i] = c.add(table[i-1], table[1])
	}
	acc := table[0]
	for i := (k.BitLen() + w - 1) / w * w; i > 0; i -= w {
		for range w {
			acc = c.double(acc)
		}
		var d uint
		for j := 1; j <= w; j++ {
			d = d<<1 | k.Bit(i-j)
		}
		if d != 0 {
			acc = c.add(acc, table[d])
		}
	}
	return c.toAffine(acc)
}

// Add computes P + Q in affine coordinates.
func (c *Curve) Add(p, q Point) Point {
	return c.toAffine(c.add(c.toJacobian(p), c.toJacobian(q)))
}

// PrivateKey draws a scalar in [1, n-1] from rnd: as many bytes as n has,
// the bits above n's length masked off, drawn again when out of range.
// Reading exactly those bytes lets tests feed a worked example's keys.
func (c *Curve) PrivateKey(rnd io.Reader) (*big.Int, error) {
	buf := make([]byte, (c.N.BitLen()+7)/8)
	excess := uint(len(buf)*8 - c.N.BitLen())
	for range 100 {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return nil, fmt.Errorf("ecc: random: %w", err)
		}
		buf[0] &= 0xFF >> excess
		k := new(big.Int).SetBytes(buf)
		if k.Sign() > 0 && k.Cmp(c.N) < 0 {
			return k, nil
		}
	}
	return nil, errors.New("ecc: random source gives no scalar below the group order")
}
