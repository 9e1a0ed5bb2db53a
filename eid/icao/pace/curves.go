package pace

import "github.com/guichet/guichet/eid/icao/ecc"

// standardCurves maps the standardized domain parameter identifiers of
// Doc 9303 Part 11 9.5.1 (BSI TR-03110 Part 3 A.2.1.1) to the elliptic
// curves implemented in package ecc. 8 and 9 (192-bit curves) are not.
var standardCurves = map[int]*ecc.Curve{
	10: ecc.P224,
	11: ecc.BrainpoolP224r1,
	12: ecc.P256,
	13: ecc.BrainpoolP256r1,
	14: ecc.BrainpoolP320r1,
	15: ecc.P384,
	16: ecc.BrainpoolP384r1,
	17: ecc.BrainpoolP512r1,
	18: ecc.P521,
}

// ErrBadPoint is returned for a public key that is not a point of the
// curve, or is the point at infinity: accepting one would let the other
// side pick the shared secret (an invalid-curve attack).
var ErrBadPoint = ecc.ErrBadPoint
