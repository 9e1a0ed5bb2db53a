package credential

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// ClaimEID is the CWT claim key of the e-ID claim, in the private-use range
// of the CWT Claims registry (RFC 8392 section 9.1).
const ClaimEID = -65537

// eidVersion is the version of the e-ID claim this package writes and reads.
const eidVersion = 1

// Limits on claim sizes: far above what the platform issues, low enough that
// a code stays in a QR code a phone can show.
const (
	maxIssuerLen  = 64
	maxSubjectLen = 64
	maxNameLen    = 128
	maxIDLen      = 64
)

// Credential is what an e-ID code asserts: the CWT claims and the e-ID
// claim. See the package documentation for why it holds so little.
type Credential struct {
	// ID is the cti claim, the credential id that revocation lists name.
	// Issue fills in 16 random bytes when it is nil.
	ID []byte
	// Issuer is the iss claim. Issue uses the Issuer's Name when it is
	// empty.
	Issuer string
	// Level is the assurance level.
	Level Level
	// Subject is the platform's pseudonym for the holder.
	Subject string
	// Name is the holder's display name; empty to leave it out.
	Name string
	// AgeOver18 says whether the holder is 18 or older; nil to leave it out.
	AgeOver18 *bool
	// IssuedAt is the iat claim; Issue uses the current time when it is
	// zero.
	IssuedAt time.Time
	// NotBefore is the nbf claim; zero to leave it out.
	NotBefore time.Time
	// Expires is the exp claim; required.
	Expires time.Time
}

// cwt is the CWT claims set (RFC 8392 section 3.1) with the e-ID claim.
type cwt struct {
	Iss string    `cbor:"1,keyasint,omitempty"`
	Sub string    `cbor:"2,keyasint,omitempty"`
	Exp *int64    `cbor:"4,keyasint,omitempty"`
	Nbf *int64    `cbor:"5,keyasint,omitempty"`
	Iat *int64    `cbor:"6,keyasint,omitempty"`
	Cti []byte    `cbor:"7,keyasint,omitempty"`
	EID *eidClaim `cbor:"-65537,keyasint,omitempty"`
}

type eidClaim struct {
	Version   uint   `cbor:"1,keyasint"`
	Level     string `cbor:"2,keyasint"`
	Subject   string `cbor:"3,keyasint"`
	Name      string `cbor:"4,keyasint,omitempty"`
	AgeOver18 *bool  `cbor:"5,keyasint,omitempty"`
}

// check validates c as Issue would write it and as Verify accepts it.
func (c *Credential) check() error {
	switch {
	case len(c.ID) == 0 || len(c.ID) > maxIDLen:
		return fmt.Errorf("cti of %d bytes", len(c.ID))
	case c.Issuer == "" || len(c.Issuer) > maxIssuerLen || !utf8.ValidString(c.Issuer):
		return fmt.Errorf("iss of %d bytes", len(c.Issuer))
	case !c.Level.Valid():
		return fmt.Errorf("unknown level %q", c.Level)
	case c.Subject == "" || len(c.Subject) > maxSubjectLen || !utf8.ValidString(c.Subject):
		return fmt.Errorf("subject of %d bytes", len(c.Subject))
	case len(c.Name) > maxNameLen || !utf8.ValidString(c.Name):
		return fmt.Errorf("name of %d bytes", len(c.Name))
	case c.IssuedAt.IsZero():
		return errors.New("no iat")
	case c.Expires.IsZero():
		return errors.New("no exp")
	case !c.Expires.After(c.IssuedAt):
		return errors.New("exp is not after iat")
	case !c.NotBefore.IsZero() && !c.Expires.After(c.NotBefore):
		return errors.New("exp is not after nbf")
	}
	return nil
}

func unixPtr(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}

// marshalClaims encodes c as a CWT claims set.
func marshalClaims(c *Credential) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return encMode.Marshal(cwt{
		Iss: c.Issuer,
		Exp: unixPtr(c.Expires),
		Nbf: unixPtr(c.NotBefore),
		Iat: unixPtr(c.IssuedAt),
		Cti: c.ID,
		EID: &eidClaim{
			Version:   eidVersion,
			Level:     string(c.Level),
			Subject:   c.Subject,
			Name:      c.Name,
			AgeOver18: c.AgeOver18,
		},
	})
}

// unmarshalClaims decodes and checks a CWT claims set.
func unmarshalClaims(data []byte) (*Credential, error) {
	var w cwt
	if err := claimsDec.Unmarshal(data, &w); err != nil {
		return nil, err
	}
	if w.EID == nil {
		return nil, errors.New("no e-ID claim")
	}
	if w.EID.Version != eidVersion {
		return nil, fmt.Errorf("e-ID claim version %d, want %d", w.EID.Version, eidVersion)
	}
	if w.Exp == nil || w.Iat == nil {
		return nil, errors.New("exp and iat are required")
	}
	c := &Credential{
		ID:        w.Cti,
		Issuer:    w.Iss,
		Level:     Level(w.EID.Level),
		Subject:   w.EID.Subject,
		Name:      w.EID.Name,
		AgeOver18: w.EID.AgeOver18,
		IssuedAt:  time.Unix(*w.Iat, 0).UTC(),
		Expires:   time.Unix(*w.Exp, 0).UTC(),
	}
	if w.Nbf != nil {
		c.NotBefore = time.Unix(*w.Nbf, 0).UTC()
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

var (
	encMode = func() cbor.EncMode {
		em, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			panic(err)
		}
		return em
	}()
	// claimsDec reads claims and lists: no tags, no indefinite lengths, no
	// duplicate keys, little nesting.
	claimsDec = func() cbor.DecMode {
		dm, err := cbor.DecOptions{
			DupMapKey:         cbor.DupMapKeyEnforcedAPF,
			IndefLength:       cbor.IndefLengthForbidden,
			TagsMd:            cbor.TagsForbidden,
			MaxNestedLevels:   8,
			MaxArrayElements:  MaxKeys,
			MaxMapPairs:       64,
			FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
		}.DecMode()
		if err != nil {
			panic(err)
		}
		return dm
	}()
)
