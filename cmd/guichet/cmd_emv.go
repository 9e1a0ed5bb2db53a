package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/guichet/guichet/checkout/emv"
	"github.com/guichet/guichet/internal/atomicfile"
	"github.com/guichet/guichet/internal/qr"
)

func init() {
	register("emv", "parse or build an EMVCo merchant-presented QR payload", runEMV)
}

// runEMV dispatches "emv parse PAYLOAD" and "emv mpm FLAGS".
func runEMV(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want \"emv parse PAYLOAD\" or \"emv mpm FLAGS\"", errUsage)
	}
	switch args[0] {
	case "parse":
		return runEMVParse(e, args[1:])
	case "mpm":
		return runEMVMPM(e, args[1:])
	case "-h", "--help", "-help":
		fmt.Fprintln(e.stdout, "usage: guichet emv parse [--strict] PAYLOAD\n       guichet emv mpm --merchant-name N --city C --mcc MCC --currency NUM --country CC --account-gui GUI [--account-id ID] [--amount A] [--static] [--png FILE]")
		return nil
	}
	return fmt.Errorf("%w: unknown emv command %q (want parse or mpm)", errUsage, args[0])
}

// runEMVParse prints the fields of a payload as JSON. Codes from national
// schemes often leave out fields that EMVCo calls mandatory (merchant
// category, name, city): they are parsed all the same, the JSON lists
// them under "missing" and stderr names each one; --strict refuses them
// as the till refuses its own codes. A bad structure, length or CRC is
// refused in both modes.
func runEMVParse(e *env, args []string) error {
	fs := newFlags(e, "emv parse", "[--strict] PAYLOAD")
	strict := fs.Bool("strict", false, "refuse a payload that lacks a mandatory field, as the till's own codes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one PAYLOAD argument (quote it: payloads hold spaces)", errUsage)
	}
	var out struct {
		*emv.Payload
		Missing []emv.Missing `json:"missing,omitempty"`
	}
	var err error
	if *strict {
		out.Payload, err = emv.Parse(fs.Arg(0))
	} else {
		out.Payload, out.Missing, err = emv.ParseLenient(fs.Arg(0))
	}
	if err != nil {
		return err
	}
	for _, m := range out.Missing {
		fmt.Fprintf(e.stderr, "emv parse: %s\n", m)
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// runEMVMPM builds a payload from flags and prints it.
func runEMVMPM(e *env, args []string) error {
	fs := newFlags(e, "emv mpm", "--merchant-name N --city C --mcc MCC --currency NUM --country CC --account-gui GUI [FLAGS]")
	var (
		p                                 emv.Payload
		gui, id, tmpl, sub                string
		static                            bool
		pngPath                           string
		module                            int
		lang, altName, altCity            string
		bill, reference, terminal, postal string
	)
	fs.StringVar(&p.MerchantName, "merchant-name", "", "merchant name (ID 59), at most 25 characters")
	fs.StringVar(&p.City, "city", "", "merchant city (ID 60), at most 15 characters")
	fs.StringVar(&p.MCC, "mcc", "", "merchant category code (ID 52), 4 digits, e.g. 5411")
	fs.StringVar(&p.Currency, "currency", "", "ISO 4217 numeric currency (ID 53), e.g. 156 for CNY")
	fs.StringVar(&p.Country, "country", "", "ISO 3166-1 alpha-2 country (ID 58), e.g. CN")
	fs.StringVar(&p.Amount, "amount", "", "transaction amount (ID 54), e.g. 12.34; none lets the customer enter it")
	fs.StringVar(&postal, "postal-code", "", "postal code (ID 61)")
	fs.StringVar(&gui, "account-gui", "", "globally unique identifier of the payment system (sub-field 00 of the account template)")
	fs.StringVar(&id, "account-id", "", "merchant identifier in that payment system")
	fs.StringVar(&tmpl, "account-template", "26", "merchant account information ID: 26-51 for a template, 02-25 for a network's primitive value (then --account-id is that value)")
	fs.StringVar(&sub, "account-id-sub", "01", "sub-field of the account template that holds --account-id")
	fs.BoolVar(&static, "static", false, "static code (point of initiation 11) instead of dynamic (12)")
	fs.StringVar(&bill, "bill-number", "", "bill number (ID 62, sub-field 01)")
	fs.StringVar(&reference, "reference-label", "", "reference label (ID 62, sub-field 05)")
	fs.StringVar(&terminal, "terminal-label", "", "terminal label (ID 62, sub-field 07)")
	fs.StringVar(&lang, "lang", "", "language of the alternate name and city (ID 64), ISO 639-1, e.g. ZH")
	fs.StringVar(&altName, "alt-name", "", "merchant name in --lang")
	fs.StringVar(&altCity, "alt-city", "", "merchant city in --lang")
	fs.StringVar(&pngPath, "png", "", "also write the payload as a QR code to this PNG `FILE`")
	fs.IntVar(&module, "png-module", 8, "width of one QR module in pixels")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	for _, req := range []struct{ flag, v string }{
		{"--merchant-name", p.MerchantName}, {"--city", p.City}, {"--mcc", p.MCC},
		{"--currency", p.Currency}, {"--country", p.Country},
	} {
		if req.v == "" {
			return fmt.Errorf("%w: %s is required", errUsage, req.flag)
		}
	}
	acct := emv.MerchantAccount{ID: tmpl}
	if len(tmpl) == 2 && tmpl < "26" {
		if id == "" {
			return fmt.Errorf("%w: --account-id is required for account ID %s", errUsage, tmpl)
		}
		acct.Value = id
	} else {
		if gui == "" {
			return fmt.Errorf("%w: --account-gui is required", errUsage)
		}
		acct.GUI = gui
		if id != "" {
			acct.Fields = []emv.Field{{ID: sub, Value: id}}
		}
	}
	p.Accounts = []emv.MerchantAccount{acct}
	p.Initiation = emv.Dynamic
	if static {
		p.Initiation = emv.Static
	}
	p.PostalCode = postal
	if bill != "" || reference != "" || terminal != "" {
		p.Additional = &emv.AdditionalData{BillNumber: bill, ReferenceLabel: reference, TerminalLabel: terminal}
	}
	if lang != "" || altName != "" || altCity != "" {
		p.Language = &emv.Language{Preference: lang, Name: altName, City: altCity}
	}
	s, err := p.Build()
	if err != nil {
		return err
	}
	if pngPath != "" {
		if err := writePNGFile(pngPath, s, module); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintln(e.stdout, s)
	return err
}

func writePNGFile(path, payload string, module int) error {
	var b bytes.Buffer
	if err := qr.WritePNG(&b, payload, module); err != nil {
		return err
	}
	if err := atomicfile.Write(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
