// Package pace implements Password Authenticated Connection Establishment,
// ICAO Doc 9303 Part 11 section 4.4 (and BSI TR-03110 Part 2 section 3.2),
// with the Generic Mapping over ECDH: id-PACE-ECDH-GM-AES-CBC-CMAC-128,
// -192 and -256 on the standardized elliptic curves of section 9.5.1
// (brainpoolP224r1 to brainpoolP512r1, NIST P-224 to P-521).
//
// The password is the MRZ data (f(π) = SHA-1 of the MRZ information, as
// for BAC's seed but whole) or the card access number (CAN) printed on the
// document. K_pi = KDF(f(π), 3) decrypts the chip's nonce s; both sides map
// the generator to G' = s·G + H, where H is an ephemeral ECDH between them
// (section 4.4), then agree on a second ephemeral key over G', derive
// KS_enc and KS_mac from its x-coordinate (9.7.1), and prove it to each
// other with authentication tokens: AES-CMAC over the other side's public
// key in data object 7F49. AES secure messaging follows (9.8), with a zero
// send sequence counter.
//
// EF.CardAccess (SecurityInfos with PACEInfo, Part 11 9.2.1) names what
// the chip offers; ParseCardAccess reads it and Choose picks the first
// entry implemented here. The commands are MSE:Set AT (00 22 C1 A4) and a
// chain of four GENERAL AUTHENTICATE (10 86 00 00, the last 00 86 00 00)
// carrying dynamic authentication data, data object 7C.
//
// Both sides are here: Authenticate for the reader (IFD) and Chip for the
// chip (IC), which the virtual ePassport uses. Not implemented: the
// Integrated and Chip Authentication Mappings, DH over finite fields,
// 3DES, proprietary (explicit) domain parameters.
package pace

import (
	"crypto/sha1"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"

	"github.com/guichet/guichet/eid/icao/ecc"
	"github.com/guichet/guichet/eid/icao/mrz"
)

// Errors of PACE, wrapped with what was being done.
var (
	// ErrAccessDenied: the chip refused the reader's authentication
	// token, which means the password (MRZ data or CAN) is wrong.
	ErrAccessDenied = errors.New("pace: chip refused the password (wrong MRZ data or CAN?)")
	// ErrBadAnswer: the chip's answers do not follow the protocol: a
	// malformed data object, a point off the curve, a token that does not
	// verify.
	ErrBadAnswer = errors.New("pace: chip answered outside the protocol")
	// ErrMalformed: EF.CardAccess or dynamic authentication data that
	// does not decode.
	ErrMalformed = errors.New("pace: malformed data")
	// ErrUnsupported: the chip offers PACE only with algorithms or domain
	// parameters this package does not implement.
	ErrUnsupported = errors.New("pace: algorithm or domain parameters not supported")
)

// idPACE is the arc of the PACE protocols, bsi-de 2 2 4 (Doc 9303 Part 11
// 9.2.1).
var idPACE = asn1.ObjectIdentifier{0, 4, 0, 127, 0, 7, 2, 2, 4}

func pacePlus(arcs ...int) asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier{}, idPACE...), arcs...)
}

// The protocol identifiers this package implements: ECDH with the
// Generic Mapping (id-PACE-ECDH-GM, arc 2) and AES with CMAC.
var (
	ECDHGMAES128 = pacePlus(2, 2)
	ECDHGMAES192 = pacePlus(2, 3)
	ECDHGMAES256 = pacePlus(2, 4)
)

// Domain parameter identifiers of the two curves most chips use (Doc 9303
// Part 11 9.5.1).
const (
	ParamP256            = 12
	ParamBrainpoolP256r1 = 13
)

// suite is what a protocol identifier and a parameter identifier select.
type suite struct {
	name   string
	keyLen int // AES key bytes
	c      *ecc.Curve
}

var protocols = []struct {
	oid    asn1.ObjectIdentifier
	name   string
	keyLen int
}{
	{ECDHGMAES128, "PACE-ECDH-GM-AES-CBC-CMAC-128", 16},
	{ECDHGMAES192, "PACE-ECDH-GM-AES-CBC-CMAC-192", 24},
	{ECDHGMAES256, "PACE-ECDH-GM-AES-CBC-CMAC-256", 32},
}

// protocolName names any PACE protocol identifier, implemented or not, for
// error messages.
func protocolName(oid asn1.ObjectIdentifier) string {
	for _, p := range protocols {
		if p.oid.Equal(oid) {
			return p.name
		}
	}
	if len(oid) == len(idPACE)+2 && oid[:len(idPACE)].Equal(idPACE) {
		mapping := map[int]string{1: "DH-GM", 2: "ECDH-GM", 3: "DH-IM", 4: "ECDH-IM", 6: "ECDH-CAM"}[oid[len(idPACE)]]
		cipher := map[int]string{1: "3DES-CBC-CBC", 2: "AES-CBC-CMAC-128", 3: "AES-CBC-CMAC-192", 4: "AES-CBC-CMAC-256"}[oid[len(idPACE)+1]]
		if mapping != "" && cipher != "" {
			return "PACE-" + mapping + "-" + cipher
		}
	}
	return oid.String()
}

// Info is a PACEInfo of EF.CardAccess (Doc 9303 Part 11 9.2.1): a protocol
// the chip offers and the standardized domain parameters it uses.
type Info struct {
	Protocol asn1.ObjectIdentifier
	// Version is 2 in every chip that follows Doc 9303.
	Version int
	// ParameterID names standardized domain parameters (9.5.1); -1 when
	// the PACEInfo carries none, as with proprietary parameters.
	ParameterID int
}

// String names the protocol and the curve, for logs.
func (i Info) String() string {
	s := protocolName(i.Protocol)
	if c, ok := standardCurves[i.ParameterID]; ok {
		return s + " " + c.Name
	}
	if i.ParameterID >= 0 {
		return fmt.Sprintf("%s parameters %d", s, i.ParameterID)
	}
	return s + " proprietary parameters"
}

// suite returns what the reader needs to run i, or why it cannot.
func (i Info) suite() (suite, error) {
	if i.Version != 2 {
		return suite{}, fmt.Errorf("%w: %s version %d", ErrUnsupported, protocolName(i.Protocol), i.Version)
	}
	for _, p := range protocols {
		if !p.oid.Equal(i.Protocol) {
			continue
		}
		c, ok := standardCurves[i.ParameterID]
		if !ok {
			return suite{}, fmt.Errorf("%w: %s", ErrUnsupported, i)
		}
		return suite{name: p.name, keyLen: p.keyLen, c: c}, nil
	}
	return suite{}, fmt.Errorf("%w: %s", ErrUnsupported, i)
}

// Supported reports whether this package can run PACE as i describes.
func (i Info) Supported() bool {
	_, err := i.suite()
	return err == nil
}

// Choose returns the first of the chip's PACEInfos that this package
// implements, in the chip's order, or an error naming what it offers.
func Choose(infos []Info) (Info, error) {
	if len(infos) == 0 {
		return Info{}, fmt.Errorf("%w: EF.CardAccess has no PACEInfo", ErrUnsupported)
	}
	var names []string
	for _, i := range infos {
		if i.Supported() {
			return i, nil
		}
		names = append(names, i.String())
	}
	return Info{}, fmt.Errorf("%w: the chip offers %s", ErrUnsupported, strings.Join(names, ", "))
}

// Password references of MSE:Set AT (Doc 9303 Part 11 9.2.1, and BSI
// TR-03110 Part 3 D.3.3): which secret the reader knows.
const (
	RefMRZ byte = 1
	RefCAN byte = 2
)

// Password is what PACE is run with: its reference and f(π), the key
// seed K_pi is derived from.
type Password struct {
	Ref byte
	Key []byte
}

// Kind names the password's reference for messages: "MRZ" or "CAN".
func (p Password) Kind() string {
	switch p.Ref {
	case RefMRZ:
		return "MRZ"
	case RefCAN:
		return "CAN"
	}
	return fmt.Sprintf("password %d", p.Ref)
}

// MRZPassword derives f(π) from the MRZ data: SHA-1 of the MRZ
// information (document number, birth and expiry dates with their check
// digits), all 20 bytes, where BAC keeps 16 (Doc 9303 Part 11 4.4).
func MRZPassword(documentNumber, birthDate, expiryDate string) (Password, error) {
	info, err := mrz.KeyInfo(documentNumber, birthDate, expiryDate)
	if err != nil {
		return Password{}, fmt.Errorf("pace: %w", err)
	}
	h := sha1.Sum([]byte(info))
	return Password{Ref: RefMRZ, Key: h[:]}, nil
}

// CANPassword takes the card access number as f(π): its digits as
// characters (Doc 9303 Part 11 4.4). A CAN is six digits on ICAO
// documents; other lengths are let through for national cards.
func CANPassword(can string) (Password, error) {
	can = strings.TrimSpace(can)
	if can == "" || len(can) > 16 {
		return Password{}, fmt.Errorf("pace: a card access number of %d characters", len(can))
	}
	for _, r := range can {
		if r < '0' || r > '9' {
			return Password{}, fmt.Errorf("pace: the card access number %q is not digits only", can)
		}
	}
	return Password{Ref: RefCAN, Key: []byte(can)}, nil
}

// ParamByName returns the standardized domain parameter identifier of a
// curve implemented here, by its name: "brainpoolP256r1", "P-256" or
// "NIST P-256", any case.
func ParamByName(name string) (int, error) {
	c, err := ecc.CurveByName(name)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	for id, sc := range standardCurves {
		if sc == c {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%w: curve %s has no standardized PACE parameters", ErrUnsupported, c.Name)
}
