package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/device/cardreader"
	_ "github.com/guichet/guichet/device/cardreader/sam" // registers card reader "sam"
	"github.com/guichet/guichet/eid/icao"
	"github.com/guichet/guichet/internal/atomicfile"
)

func init() {
	register("card", "read an ID card or e-passport and print its fields as JSON", runCard)
}

// runCard dispatches "card read FLAGS".
func runCard(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "read" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprintln(e.stdout, "usage: guichet card read [--reader NAME | --reader sam:/dev/ttyX] [--mrz DOCNO,YYMMDD,YYMMDD | --mrz-line MRZ] [--can DIGITS] [--photo FILE] [--csca FILE] [--wait DURATION]")
			return nil
		}
		return fmt.Errorf("%w: want \"card read FLAGS\"", errUsage)
	}
	fs := newFlags(e, "card read", "[--reader NAME] [--mrz DOCNO,YYMMDD,YYMMDD | --mrz-line MRZ] [--can DIGITS] [--photo FILE] [--csca FILE]")
	reader := fs.String("reader", "", "PC/SC reader `NAME` (or part of it; default the first), or sam:DEVICE for the serial SAM module")
	mrzData := fs.String("mrz", "", "BAC data `DOCNO,YYMMDD,YYMMDD`: document number, birth date, expiry date")
	mrzLine := fs.String("mrz-line", "", "the `MRZ` as printed (whole, or a passport's second line)")
	can := fs.String("can", "", "card access number `DIGITS` printed on the card, for PACE (instead of or beside the MRZ)")
	photo := fs.String("photo", "", "write the card's photo to `FILE`")
	csca := fs.String("csca", "", "country signing CA certificates, PEM/DER `FILE` or folder, for passive authentication")
	wait := fs.Duration("wait", 10*time.Second, "how long to wait for a card")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	var access icao.Access
	var err error
	switch {
	case *mrzData != "" && *mrzLine != "":
		return fmt.Errorf("%w: give --mrz or --mrz-line, not both", errUsage)
	case *mrzData != "":
		access, err = icao.ParseAccess(*mrzData)
	case *mrzLine != "":
		access, err = icao.AccessFromMRZ(*mrzLine)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *can != "" {
		if strings.Trim(*can, "0123456789") != "" || len(*can) < 6 || len(*can) > 10 {
			return fmt.Errorf("%w: --can: the card access number is 6 to 10 digits", errUsage)
		}
		access.CAN = *can
	}

	driver, opts := "pcsc", map[string]any{"reader": *reader, "csca": *csca, "card_wait": wait.String()}
	if port, ok := strings.CutPrefix(*reader, "sam:"); ok {
		driver, opts = "sam", map[string]any{"port": port}
	}
	var node yaml.Node
	if err := node.Encode(opts); err != nil {
		return err
	}
	r, err := cardreader.Drivers.Open(ctx, driver, &node)
	if err != nil {
		return err
	}
	defer r.Close()
	rctx, cancel := context.WithTimeout(ctx, *wait+30*time.Second)
	defer cancel()
	card, err := r.ReadCard(rctx, cardreader.Access(access))
	if err != nil {
		return err
	}
	if *photo != "" {
		if len(card.Photo) == 0 {
			return fmt.Errorf("the card holds no photo to write to %s", *photo)
		}
		// The photo is personal data: readable by its owner only.
		if err := atomicfile.Write(*photo, card.Photo, 0o600); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(card)
}
