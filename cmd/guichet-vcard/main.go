// Command guichet-vcard runs a virtual ePassport in vsmartcard's vpcd
// reader, so that a technician can try `guichet card read` without a real
// passport. pcscd with the vsmartcard-vpcd driver must be running.
//
//	guichet-vcard [--vpcd HOST:PORT] [--card FILE] [--mrz DOCNO,YYMMDD,YYMMDD] [--photo FILE] [--csca-out FILE]
//	              [--access bac|pace|pace-only] [--can DIGITS] [--pace-curve NAME] [--pace-aes 128|192|256]
//	              [--signer-curve NAME]
//
// The card holds the ICAO specimen holder unless --card names a YAML file
// with the fields of vcard.Holder (document_number, surname, given_names,
// birth_date, expiry_date, sex, nationality, issuer, personal_number);
// --mrz overrides the three fields that open the chip. Each start creates a
// fresh test CSCA; --csca-out writes it for `guichet card read --csca`.
// --signer-curve puts the CSCA's and the document signer's keys on another
// curve than P-256: brainpoolP256r1, as several states issue passports,
// tries passive authentication with a signer crypto/x509 cannot parse.
//
// --access chooses how the chip opens: with BAC alone, as older passports;
// with PACE and BAC, as passports issued since 2018 (the default); or with
// PACE alone, as some ID cards. PACE takes the MRZ data or the card access
// number --can, with PACE-ECDH-GM-AES-CBC-CMAC on the curve --pace-curve
// (brainpoolP256r1 by default, or P-256 and the other standardized curves)
// and AES keys of --pace-aes bits.
package main

import (
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/eid/icao"
	"github.com/guichet/guichet/eid/icao/ecc"
	"github.com/guichet/guichet/eid/icao/pace"
	"github.com/guichet/guichet/eid/icao/vcard"
	"github.com/guichet/guichet/internal/atomicfile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "guichet-vcard:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("guichet-vcard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("vpcd", vcard.DefaultVPCD, "vpcd slot `ADDRESS` (its second slot listens on the next port)")
	cardFile := fs.String("card", "", "YAML `FILE` with the holder's data")
	mrzData := fs.String("mrz", "", "`DOCNO,YYMMDD,YYMMDD`: document number, birth and expiry dates")
	photoFile := fs.String("photo", "", "face image `FILE` (JPEG or JPEG 2000); a demo face by default")
	cscaOut := fs.String("csca-out", "", "write the test CSCA certificate as PEM to `FILE`")
	access := fs.String("access", "pace", "how the chip opens: `bac` alone, pace (PACE and BAC) or pace-only")
	can := fs.String("can", "123456", "card access number for PACE (`DIGITS`)")
	curve := fs.String("pace-curve", "brainpoolP256r1", "PACE domain parameters: a standardized curve `NAME` (brainpoolP256r1, P-256, ...)")
	aesBits := fs.Int("pace-aes", 128, "PACE AES key length in `BITS`: 128, 192 or 256")
	signerCurve := fs.String("signer-curve", "P-256", "curve `NAME` of the CSCA's and document signer's keys (P-256, brainpoolP256r1, ...)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h, photo, err := load(*cardFile, *mrzData, *photoFile)
	if err != nil {
		return err
	}
	info, err := paceInfo(*access, *curve, *aesBits)
	if err != nil {
		return err
	}
	sc, err := ecc.CurveByName(*signerCurve)
	if err != nil {
		return fmt.Errorf("--signer-curve: %w", err)
	}
	iss, err := vcard.NewIssuerOn("UT", sc)
	if err != nil {
		return err
	}
	doc, err := vcard.Issue(h, photo, iss)
	if err != nil {
		return err
	}
	if info != nil {
		if err := doc.EnablePACE(*can, *info); err != nil {
			return err
		}
		doc.NoBAC = *access == "pace-only"
	}
	if *cscaOut != "" {
		if err := atomicfile.Write(*cscaOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.CSCA.Raw}), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "virtual ePassport in vpcd at %s; read it with:\n  guichet card read --mrz %s,%s,%s", *addr, h.DocumentNumber, h.BirthDate, h.ExpiryDate)
	if *cscaOut != "" {
		fmt.Fprintf(stdout, " --csca %s", *cscaOut)
	}
	fmt.Fprintln(stdout)
	if info != nil {
		fmt.Fprintf(stdout, "it offers %s with the MRZ data or the CAN %s", info, doc.CAN)
		if doc.NoBAC {
			fmt.Fprint(stdout, ", and no BAC")
		} else {
			fmt.Fprint(stdout, ", and BAC")
		}
		fmt.Fprintln(stdout)
	} else {
		fmt.Fprintln(stdout, "it offers BAC alone")
	}
	card := vcard.NewCard(doc, nil)
	// vpcd drops the connection when pcscd restarts: insert the card again.
	for {
		err := vcard.Serve(ctx, *addr, card)
		if ctx.Err() != nil {
			return nil
		}
		slog.Warn("guichet-vcard: vpcd connection lost, retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		card.Reset()
	}
}

// paceInfo turns the PACE flags into the PACEInfo the chip offers; nil for
// BAC alone.
func paceInfo(access, curve string, aesBits int) (*pace.Info, error) {
	switch access {
	case "bac":
		return nil, nil
	case "pace", "pace-only":
	default:
		return nil, fmt.Errorf("--access %q: want bac, pace or pace-only", access)
	}
	id, err := pace.ParamByName(curve)
	if err != nil {
		return nil, fmt.Errorf("--pace-curve: %w", err)
	}
	oid := map[int][]int{128: pace.ECDHGMAES128, 192: pace.ECDHGMAES192, 256: pace.ECDHGMAES256}[aesBits]
	if oid == nil {
		return nil, fmt.Errorf("--pace-aes %d: want 128, 192 or 256", aesBits)
	}
	return &pace.Info{Protocol: oid, Version: 2, ParameterID: id}, nil
}

// load gathers the holder and the photo from the flags.
func load(cardFile, mrzData, photoFile string) (vcard.Holder, []byte, error) {
	h := vcard.Specimen
	if cardFile != "" {
		b, err := os.ReadFile(cardFile)
		if err != nil {
			return h, nil, err
		}
		h = vcard.Holder{}
		if err := yaml.Unmarshal(b, &h); err != nil {
			return h, nil, fmt.Errorf("%s: %w", cardFile, err)
		}
	}
	if mrzData != "" {
		a, err := icao.ParseAccess(mrzData)
		if err != nil {
			return h, nil, err
		}
		h.DocumentNumber, h.BirthDate, h.ExpiryDate = a.DocumentNumber, a.BirthDate, a.ExpiryDate
	}
	photo := vcard.DemoPhoto
	if photoFile != "" {
		b, err := os.ReadFile(photoFile)
		if err != nil {
			return h, nil, err
		}
		photo = b
	}
	return h, photo, nil
}
