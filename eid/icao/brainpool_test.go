package icao

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/guichet/guichet/eid/icao/ecc"
	"github.com/guichet/guichet/eid/icao/lds"
	"github.com/guichet/guichet/eid/icao/pa"
	"github.com/guichet/guichet/eid/icao/vcard"
)

// TestBrainpoolSigner reads a virtual passport whose CSCA and document
// signer keys are brainpoolP256r1, as several states issue them: crypto/x509
// refuses such certificates, so passive authentication parses their keys
// with package ecc and verifies with it. A tampered data group and a
// signer from another CSCA still fail.
func TestBrainpoolSigner(t *testing.T) {
	iss, err := vcard.NewIssuerOn("UT", ecc.BrainpoolP256r1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParseCertificate(iss.DS.Cert.Raw); err == nil {
		t.Fatal("crypto/x509 parses a brainpool document signer: this test no longer shows the point")
	}
	if k, ok := iss.DS.Cert.PublicKey.(*ecc.PublicKey); !ok || k.Curve != ecc.BrainpoolP256r1 {
		t.Fatalf("document signer key %T, want a brainpoolP256r1 *ecc.PublicKey", iss.DS.Cert.PublicKey)
	}
	other, err := vcard.NewIssuerOn("UT", ecc.BrainpoolP256r1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		modify   func(*vcard.Document)
		csca     *x509.Certificate
		verified bool
		want     error
	}{
		{name: "verifies", csca: iss.CSCA, verified: true},
		{name: "tampered DG1", modify: func(d *vcard.Document) { d.Files[lds.FileID(1)][20] ^= 1 }, csca: iss.CSCA, want: pa.ErrHashMismatch},
		{name: "tampered DG2", modify: func(d *vcard.Document) { d.Files[lds.FileID(2)][5000] ^= 1 }, csca: iss.CSCA, want: pa.ErrHashMismatch},
		{name: "tampered signature", modify: func(d *vcard.Document) { f := d.Files[lds.FileSOD]; f[len(f)-5] ^= 1 }, csca: iss.CSCA, want: pa.ErrSignature},
		{name: "another CSCA", csca: other.CSCA},
		{name: "a P-256 CSCA", csca: testIssuer(t).CSCA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := vcard.Issue(vcard.Specimen, vcard.DemoPhoto, iss)
			if err != nil {
				t.Fatal(err)
			}
			if tt.modify != nil {
				tt.modify(doc)
			}
			d, err := ReadCard(context.Background(), direct(vcard.NewCard(doc, nil)), specimenAccess, Options{CSCA: pa.NewPool(tt.csca)})
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("ReadCard: %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Verified != tt.verified {
				t.Fatalf("Verified = %v (%v), want %v", d.Verified, d.Unverified, tt.verified)
			}
			if !tt.verified && !errors.Is(d.Unverified, pa.ErrUntrusted) {
				t.Fatalf("Unverified = %v, want ErrUntrusted", d.Unverified)
			}
			if h := d.Holder(time.Now()); h.Surname != "ERIKSSON" || h.Verified != tt.verified {
				t.Fatalf("holder %+v", h)
			}
		})
	}
}
