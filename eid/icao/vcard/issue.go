// Package vcard is a virtual ePassport: the chip (IC) side of ICAO Doc 9303
// Basic Access Control, PACE (when Document.EnablePACE is called: an
// EF.CardAccess with PACEInfos in the master file, MSE:Set AT and GENERAL
// AUTHENTICATE answered with the chip's own keys, then AES secure
// messaging), secure messaging and the Logical Data Structure, with an
// issuer that signs its Document Security Object, and a client of
// vsmartcard's vpcd driver so that pcscd presents it as a card in a reader.
//
// It serves tests and technicians (cmd/guichet-vcard); it holds specimen
// data only and has none of a real chip's other protections (no active or
// chip authentication, no terminal authentication).
package vcard

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of the face image
	"math/big"
	"strings"
	"time"

	"github.com/guichet/guichet/eid/icao/bac"
	"github.com/guichet/guichet/eid/icao/ecc"
	"github.com/guichet/guichet/eid/icao/lds"
	"github.com/guichet/guichet/eid/icao/mrz"
	"github.com/guichet/guichet/eid/icao/pa"
	"github.com/guichet/guichet/eid/icao/pace"
)

// DemoPhoto is a 276x336 JPEG face of about 20 KB, made from subject 1 of
// the ORL face database (Olivetti Research Laboratory, Cambridge).
//
//go:embed face.jpg
var DemoPhoto []byte

// Holder is the data printed in the document's MRZ.
type Holder struct {
	DocumentCode   string `yaml:"document_code" json:"document_code"` // "P" when empty
	Issuer         string `yaml:"issuer" json:"issuer"`               // three letters, "UTO" when empty
	Nationality    string `yaml:"nationality" json:"nationality"`     // Issuer when empty
	DocumentNumber string `yaml:"document_number" json:"document_number"`
	Surname        string `yaml:"surname" json:"surname"`
	GivenNames     string `yaml:"given_names" json:"given_names"`
	BirthDate      string `yaml:"birth_date" json:"birth_date"`   // YYMMDD
	ExpiryDate     string `yaml:"expiry_date" json:"expiry_date"` // YYMMDD
	Sex            string `yaml:"sex" json:"sex"`                 // M, F or <
	PersonalNumber string `yaml:"personal_number" json:"personal_number"`
}

// Specimen is the holder of the ICAO Doc 9303 specimen passport, with an
// expiry date moved into the future.
var Specimen = Holder{
	DocumentNumber: "L898902C3", Surname: "ERIKSSON", GivenNames: "ANNA MARIA",
	BirthDate: "740812", ExpiryDate: "340415", Sex: "F", PersonalNumber: "ZE184226B",
}

func field(s string, n int) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.Join(strings.Fields(s), "<")
	if len(s) > n {
		return "", fmt.Errorf("vcard: %q longer than %d characters", s, n)
	}
	return s + strings.Repeat("<", n-len(s)), nil
}

// MRZ returns the holder's TD3 machine readable zone, 88 characters with
// check digits (Doc 9303 Part 4 section 4.2).
func (h Holder) MRZ() (string, error) {
	if h.DocumentCode == "" {
		h.DocumentCode = "P"
	}
	if h.Issuer == "" {
		h.Issuer = "UTO"
	}
	if h.Nationality == "" {
		h.Nationality = h.Issuer
	}
	if h.Sex == "" {
		h.Sex = "<"
	}
	name := strings.Join(strings.Fields(strings.ToUpper(h.Surname)), "<") + "<<" + strings.Join(strings.Fields(strings.ToUpper(h.GivenNames)), "<")
	var err error
	code, issuer, nat := "", "", ""
	for _, f := range []struct {
		dst *string
		v   string
		n   int
	}{{&code, h.DocumentCode, 2}, {&issuer, h.Issuer, 3}, {&nat, h.Nationality, 3}} {
		if *f.dst, err = field(f.v, f.n); err != nil {
			return "", err
		}
	}
	l1 := code + issuer + name
	if len(l1) > 44 {
		l1 = l1[:44]
	}
	l1 += strings.Repeat("<", 44-len(l1))
	num, err := field(h.DocumentNumber, 9)
	if err != nil {
		return "", err
	}
	pn, err := field(h.PersonalNumber, 14)
	if err != nil {
		return "", err
	}
	if len(h.BirthDate) != 6 || len(h.ExpiryDate) != 6 || len(h.Sex) != 1 {
		return "", fmt.Errorf("vcard: dates must be YYMMDD and sex one letter")
	}
	cd := func(s string) string {
		c, e := mrz.CheckDigit(s)
		if e != nil && err == nil {
			err = e
		}
		return string(c)
	}
	l2 := num + cd(num) + nat + h.BirthDate + cd(h.BirthDate) + h.Sex + h.ExpiryDate + cd(h.ExpiryDate) + pn + cd(pn)
	l2 += cd(l2[0:10] + l2[13:20] + l2[21:43])
	if err != nil {
		return "", fmt.Errorf("vcard: %w", err)
	}
	z := l1 + l2
	if _, err := mrz.Parse(z); err != nil {
		return "", fmt.Errorf("vcard: built an invalid MRZ: %w", err)
	}
	return z, nil
}

// Issuer is a country signing CA and the document signer it certified.
type Issuer struct {
	CSCA *x509.Certificate
	DS   pa.Signer
}

// NewIssuer creates a CSCA and a document signer for country (a two-letter
// code for the certificates), with ECDSA P-256 keys and SHA-256.
func NewIssuer(country string) (*Issuer, error) {
	return NewIssuerOn(country, ecc.P256)
}

// NewIssuerOn is NewIssuer with the CSCA's and the document signer's keys
// on curve: ecc.BrainpoolP256r1 issues documents as several states do, and
// as crypto/x509 cannot parse. NIST P-256 keys are crypto/ecdsa's; keys on
// other curves are package ecc's, their certificates made by
// pa.CreateCertificate.
func NewIssuerOn(country string, curve *ecc.Curve) (*Issuer, error) {
	newKey := func() (crypto.Signer, error) {
		if curve == ecc.P256 {
			return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		return ecc.GenerateKey(curve, rand.Reader)
	}
	cscaKey, err := newKey()
	if err != nil {
		return nil, err
	}
	dsKey, err := newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	ct := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{Country: []string{country}, Organization: []string{"guichet test"}, CommonName: "CSCA " + country + " (test)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	csca, err := pa.CreateCertificate(rand.Reader, ct, ct, cscaKey.Public(), cscaKey)
	if err != nil {
		return nil, fmt.Errorf("vcard: CSCA certificate: %w", err)
	}
	dt := &x509.Certificate{
		SerialNumber: new(big.Int).Add(serial, big.NewInt(1)), Subject: pkix.Name{Country: []string{country}, Organization: []string{"guichet test"}, CommonName: "Document Signer " + country + " (test)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 3, 0), KeyUsage: x509.KeyUsageDigitalSignature,
	}
	ds, err := pa.CreateCertificate(rand.Reader, dt, csca, dsKey.Public(), cscaKey)
	if err != nil {
		return nil, fmt.Errorf("vcard: document signer certificate: %w", err)
	}
	return &Issuer{CSCA: csca, DS: pa.Signer{Cert: ds, Key: dsKey, Hash: crypto.SHA256}}, nil
}

// Document is the content of a chip: its files by identifier and the
// document basic access keys that open it, and what PACE needs when the
// chip offers it.
type Document struct {
	Files map[uint16][]byte
	Keys  bac.Keys
	// PACE lists the PACEInfos of EF.CardAccess; empty for a chip with
	// BAC alone.
	PACE []pace.Info
	// MRZPassword is PACE's password from the MRZ, CAN the card access
	// number printed on the document ("" for none).
	MRZPassword pace.Password
	CAN         string
	// NoBAC makes the chip refuse BAC, as chips offering PACE alone do.
	NoBAC bool
}

// DefaultPACE is what EnablePACE offers without infos: the worked example's
// PACE-ECDH-GM-AES-CBC-CMAC-128 on brainpoolP256r1.
var DefaultPACE = pace.Info{Protocol: pace.ECDHGMAES128, Version: 2, ParameterID: pace.ParamBrainpoolP256r1}

// EnablePACE makes the chip offer PACE with infos (DefaultPACE when none),
// in the order given, opened by the MRZ data or the card access number
// can ("" for none). It writes EF.CardAccess; BAC stays available unless
// NoBAC is set.
func (d *Document) EnablePACE(can string, infos ...pace.Info) error {
	if len(infos) == 0 {
		infos = []pace.Info{DefaultPACE}
	}
	for _, i := range infos {
		if !i.Supported() {
			return fmt.Errorf("vcard: PACE %s is not implemented", i)
		}
	}
	if can != "" {
		if _, err := pace.CANPassword(can); err != nil {
			return fmt.Errorf("vcard: %w", err)
		}
	}
	if d.MRZPassword.Key == nil {
		return fmt.Errorf("vcard: the document has no MRZ password (not made by Issue?)")
	}
	ca, err := pace.EncodeCardAccess(infos...)
	if err != nil {
		return fmt.Errorf("vcard: %w", err)
	}
	d.Files[pace.FileCardAccess] = ca
	d.PACE, d.CAN = infos, strings.TrimSpace(can)
	return nil
}

// Issue personalises a document for h with the face photo (JPEG or JPEG
// 2000): EF.COM, DG1, DG2 and an EF.SOD signed by iss.
func Issue(h Holder, photo []byte, iss *Issuer) (*Document, error) {
	z, err := h.MRZ()
	if err != nil {
		return nil, err
	}
	face := lds.Face{Data: photo}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(photo)); err == nil {
		face.Width, face.Height = cfg.Width, cfg.Height
	}
	dg2, err := lds.EncodeDG2(face)
	if err != nil {
		return nil, fmt.Errorf("vcard: %w", err)
	}
	dg1 := lds.EncodeDG1(z)
	cms, err := pa.Sign(iss.DS, map[int][]byte{1: dg1, 2: dg2})
	if err != nil {
		return nil, fmt.Errorf("vcard: %w", err)
	}
	d, _ := mrz.Parse(z)
	keys, err := bac.KeysFromMRZ(d.DocumentNumber, d.BirthDate, d.ExpiryDate)
	if err != nil {
		return nil, fmt.Errorf("vcard: %w", err)
	}
	pw, err := pace.MRZPassword(d.DocumentNumber, d.BirthDate, d.ExpiryDate)
	if err != nil {
		return nil, fmt.Errorf("vcard: %w", err)
	}
	return &Document{
		Files: map[uint16][]byte{
			lds.FileCOM:   lds.EncodeCOM(1, 2),
			lds.FileID(1): dg1,
			lds.FileID(2): dg2,
			lds.FileSOD:   lds.EncodeSOD(cms),
		},
		Keys:        keys,
		MRZPassword: pw,
	}, nil
}
