package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/atomicfile"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/internal/qr"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/platform/enrol"
	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/sync/envelope"
)

// openEnrol opens the store and the enrolment service over it: the CA
// (made at first use), the platform's key and the bundle handed to
// devices. The caller closes the store.
func openEnrol(cfg *config.Platform, log *slog.Logger) (*enrol.Service, *platform.Store, error) {
	ca, err := enrol.LoadOrCreateCA(cfg.Enrol.Dir)
	if err != nil {
		return nil, nil, err
	}
	key, err := keys.LoadOrCreate(cfg.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	var brokerCA []byte
	if cfg.Enrol.BrokerCA != "" {
		if brokerCA, err = os.ReadFile(cfg.Enrol.BrokerCA); err != nil {
			return nil, nil, fmt.Errorf("enrol.broker_ca: %w", err)
		}
	}
	store, err := platform.OpenStore(cfg.Store)
	if err != nil {
		return nil, nil, err
	}
	svc, err := enrol.New(enrol.Config{CA: ca, Store: store, PlatformKey: key.Public().(ed25519.PublicKey),
		Brokers: cfg.Enrol.Brokers, BrokerCA: brokerCA, Validity: cfg.Enrol.CertValidity.D(), CRLFile: cfg.Enrol.CRLFile, Logger: log})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return svc, store, nil
}

// crlRefresh is how often `run` writes the CRL afresh, its next update a
// year ahead.
const crlRefresh = 24 * time.Hour

// serveStore opens the store for `run` and, when enrol.brokers is set, the
// enrolment service whose handlers the server adds (nil otherwise: it has
// none); it writes the CRL afresh, so the broker never reads one past its
// next update.
func serveStore(ctx context.Context, cfg *config.Platform, log *slog.Logger) (*platform.Store, *enrol.Service, error) {
	if len(cfg.Enrol.Brokers) == 0 {
		log.Info("enrolment by code off: enrol.brokers is not set")
		store, err := platform.OpenStore(cfg.Store)
		return store, nil, err
	}
	svc, store, err := openEnrol(cfg, log)
	if err != nil {
		return nil, nil, err
	}
	if err := svc.WriteCRL(ctx); err != nil {
		store.Close()
		return nil, nil, err
	}
	log.Info("enrolment by code on", "ca", cfg.Enrol.Dir, "crl", cfg.Enrol.CRLFile, "brokers", cfg.Enrol.Brokers)
	return store, svc, nil
}

// parseWithTarget parses a subcommand's flags around its one positional
// argument, which may come before or after them (device revoke shop-1/till-1,
// device replace --expires 1h shop-1/till-1).
func parseWithTarget(fs *flag.FlagSet, args []string) (string, error) {
	var target string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		target, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if target == "" && fs.NArg() > 0 {
		target = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return "", err
		}
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return target, nil
}

// flagErr makes a flag parsing error a usage error (exit 2), and -h none.
func flagErr(cmd string, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return usageError{fmt.Errorf("%s: %w", cmd, err)}
}

// codeFlags are the flags of the commands that print a code.
type codeFlags struct {
	expires *time.Duration
	qrFile  *string
	term    *bool
}

func addCodeFlags(fs *flag.FlagSet, cfg *config.Platform) codeFlags {
	return codeFlags{
		expires: fs.Duration("expires", cfg.Enrol.CodeExpiry.D(), "the code expires this long after now"),
		qrFile:  fs.String("qr", "", "also write the code's QR code to `FILE` (PNG), for a scanner"),
		term:    fs.Bool("term", false, "print the QR code as text even when the output is not a terminal"),
	}
}

// maxCodeExpiry bounds --expires: a code is for a visit, not a season.
const maxCodeExpiry = 30 * 24 * time.Hour

func (f codeFlags) check(cmd string) error {
	if *f.expires < time.Minute || *f.expires > maxCodeExpiry {
		return usagef("%s: --expires must be between 1m and %v", cmd, maxCodeExpiry)
	}
	return nil
}

// printCode prints the code on the first line of stdout, for a script to
// take, then its QR code as text when stdout is a terminal (or --term),
// and writes the PNG when asked.
func (f codeFlags) printCode(code claim.Code, stdout io.Writer) error {
	if *f.qrFile != "" {
		var png bytes.Buffer
		if err := qr.WritePNG(&png, code.String(), 8); err != nil {
			return err
		}
		if err := atomicfile.Write(*f.qrFile, png.Bytes(), 0o600); err != nil {
			return fmt.Errorf("--qr: %w", err)
		}
	}
	fmt.Fprintln(stdout, code.String())
	if *f.term || isTerminal(stdout) {
		m, err := qr.Encode(code.String())
		if err != nil {
			return err
		}
		io.WriteString(stdout, textQR(m))
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// textQR draws m two modules a character, black on white whatever the
// terminal's colours, with a quiet zone of two modules (enough for a
// phone reading a screen).
func textQR(m *qr.Matrix) string {
	const quiet = 2
	n := m.Size()
	dark := func(x, y int) bool {
		x, y = x-quiet, y-quiet
		return x >= 0 && y >= 0 && x < n && y < n && m.Dark(x, y)
	}
	var b strings.Builder
	for y := 0; y < n+2*quiet; y += 2 {
		b.WriteString("\x1b[30;47m")
		for x := 0; x < n+2*quiet; x++ {
			top, bottom := dark(x, y), dark(x, y+1)
			switch {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		b.WriteString("\x1b[0m\n")
	}
	return b.String()
}

// needBrokers refuses to make codes no device could use: the answer to an
// enrolment names the brokers it then connects to.
func needBrokers(cmd string, cfg *config.Platform) error {
	if len(cfg.Enrol.Brokers) == 0 {
		return usagef("%s: enrol.brokers: must be set to enrol by code (the mutual-TLS addresses handed to devices)", cmd)
	}
	return nil
}

func enrolCode(ctx context.Context, cfg *config.Platform, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("enrol-code", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.String("tenant", "", "`TENANT` the device is enrolled in")
	site := fs.String("site", "", "`SITE` (shop or counter) the device is bound to")
	role := fs.String("role", "", "`ROLE` of the device: till or counter")
	cf := addCodeFlags(fs, cfg)
	if err := fs.Parse(args); err != nil {
		return flagErr("enrol-code", err)
	}
	switch {
	case fs.NArg() > 0:
		return usagef("enrol-code: unexpected argument %q", fs.Arg(0))
	case *tenant == "" || *site == "" || *role == "":
		return usagef("enrol-code: --tenant, --site and --role are required")
	}
	if err := cf.check("enrol-code"); err != nil {
		return err
	}
	if err := enrol.CheckBinding(*tenant, *site, *role); err != nil {
		return usageError{fmt.Errorf("enrol-code: %w", err)}
	}
	if err := needBrokers("enrol-code", cfg); err != nil {
		return err
	}
	svc, store, err := openEnrol(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer store.Close()
	code, exp, err := svc.NewCode(ctx, *tenant, *site, *role, *cf.expires)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "one-time code for a %s of %s at %s, valid until %s\n", *role, *tenant, *site, exp.UTC().Format(time.RFC3339))
	return cf.printCode(code, stdout)
}

func deviceCmd(ctx context.Context, cfg *config.Platform, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("device: list, revoke or replace")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "list":
		return deviceList(ctx, cfg, args, stdout, stderr)
	case "revoke", "replace":
		return deviceChange(ctx, cfg, sub, args, stdout, stderr)
	}
	return usagef("device: %q is not list, revoke or replace", sub)
}

// listed is one device as `device list --json` prints it.
type listed struct {
	enrol.Device
	// RenewDue says the certificate is within enrol.renew_before of its
	// end: a device that has not renewed by then may be off.
	RenewDue bool `json:"renew_due"`
}

func deviceList(ctx context.Context, cfg *config.Platform, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("device list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return flagErr("device list", err)
	}
	if fs.NArg() > 0 {
		return usagef("device list: unexpected argument %q", fs.Arg(0))
	}
	svc, store, err := openEnrol(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer store.Close()
	devs, err := svc.List(ctx)
	if err != nil {
		return err
	}
	due := time.Now().Add(cfg.Enrol.RenewBefore.D())
	out := make([]listed, len(devs))
	for i, d := range devs {
		out[i] = listed{Device: d, RenewDue: d.State == enrol.StateActive && d.NotAfter.Before(due)}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Devices []listed `json:"devices"`
		}{out})
	}
	fmt.Fprintf(stdout, "%-32s %-16s %-8s %-4s %-8s %s\n", "DEVICE", "SITE", "ROLE", "KEY", "STATE", "CERT EXPIRES")
	for _, d := range out {
		exp := "-"
		if d.Serial != "" {
			exp = d.NotAfter.Format(time.RFC3339)
			if d.RenewDue {
				exp += " (renewal due)"
			}
		}
		fmt.Fprintf(stdout, "%-32s %-16s %-8s %-4s %-8s %s\n", claim.CommonName(d.Tenant, d.Device.Device), orDash(d.Site), orDash(d.Role), orDash(d.KeyKind), d.State, exp)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func deviceChange(ctx context.Context, cfg *config.Platform, sub string, args []string, stdout, stderr io.Writer) error {
	name := "device " + sub
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf codeFlags
	if sub == "replace" {
		cf = addCodeFlags(fs, cfg)
	}
	target, err := parseWithTarget(fs, args)
	if err != nil {
		return flagErr(name, err)
	}
	if target == "" {
		return usagef("%s: TENANT/DEVICE is required", name)
	}
	tenant, dev, err := claim.ParseCommonName(target)
	if err != nil {
		return usagef("%s: %v", name, err)
	}
	if sub == "replace" {
		if err := cf.check(name); err != nil {
			return err
		}
		if err := needBrokers(name, cfg); err != nil {
			return err
		}
	}
	svc, store, err := openEnrol(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer store.Close()
	if sub == "revoke" {
		if err := svc.Revoke(ctx, tenant, dev); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s; CRL written to %s\n", target, cfg.Enrol.CRLFile)
		return nil
	}
	code, exp, err := svc.Replace(ctx, tenant, dev, *cf.expires)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s revoked (CRL written to %s); one-time code for its replacement, valid until %s\n", target, cfg.Enrol.CRLFile, exp.UTC().Format(time.RFC3339))
	return cf.printCode(code, stdout)
}

// defaultCertValidity is the life of the broker and platform certificates
// `ca` makes: a year, renewed by running the command again.
const defaultCertValidity = 365 * 24 * time.Hour

// hostList collects repeated --host flags.
type hostList []string

func (h *hostList) String() string     { return strings.Join(*h, ",") }
func (h *hostList) Set(s string) error { *h = append(*h, s); return nil }

func caCmd(ctx context.Context, cfg *config.Platform, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("ca: show, broker-cert, platform-cert, client-cert or crl")
	}
	sub, args := args[0], args[1:]
	name := "ca " + sub
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var hosts hostList
	var out, cn *string
	var valid *time.Duration
	switch sub {
	case "show", "crl":
	case "broker-cert", "platform-cert", "client-cert":
		out = fs.String("out", "", "write the certificate, its key and the CA to `DIR`")
		valid = fs.Duration("valid", defaultCertValidity, "validity of the certificate")
		if sub == "broker-cert" {
			fs.Var(&hosts, "host", "an IP address or DNS name the broker answers on (repeat for more)")
		}
		if sub == "client-cert" {
			cn = fs.String("cn", "", "the certificate's `NAME` (CN), the broker's user name for it, e.g. guichet-provision-bridge")
		}
	default:
		return usagef("ca: %q is not show, broker-cert, platform-cert, client-cert or crl", sub)
	}
	if err := fs.Parse(args); err != nil {
		return flagErr(name, err)
	}
	switch {
	case fs.NArg() > 0:
		return usagef("%s: unexpected argument %q", name, fs.Arg(0))
	case out != nil && *out == "":
		return usagef("%s: --out DIR is required", name)
	case valid != nil && (*valid < time.Hour || *valid > 10*defaultCertValidity):
		return usagef("%s: --valid must be between 1h and %v", name, 10*defaultCertValidity)
	case sub == "broker-cert" && len(hosts) == 0:
		return usagef("%s: --host is required", name)
	case cn != nil && !envelope.ValidName(*cn):
		// A / would make it a device's name (tenant/device), which only
		// enrolment issues.
		return usagef("%s: --cn %q: letters, digits, '-', '_' or '.', at most %d", name, *cn, envelope.MaxID)
	}
	ca, err := enrol.LoadOrCreateCA(cfg.Enrol.Dir)
	if err != nil {
		return err
	}
	var certPEM, keyPEM []byte
	var base string
	switch sub {
	case "show":
		_, err := stdout.Write(ca.PEM())
		return err
	case "crl":
		svc, store, err := openEnrol(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		defer store.Close()
		if err := svc.WriteCRL(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, cfg.Enrol.CRLFile)
		return nil
	case "broker-cert":
		base = "broker"
		certPEM, keyPEM, err = ca.IssueServer(hosts, *valid, time.Now())
	case "platform-cert":
		// The CN the broker's ACL names the instance by.
		base = "guichet-platform-" + cfg.Instance
		certPEM, keyPEM, err = ca.IssueClient(base, *valid, time.Now())
	case "client-cert":
		base = *cn
		certPEM, keyPEM, err = ca.IssueClient(base, *valid, time.Now())
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{{base + ".pem", certPEM, 0o644}, {base + ".key", keyPEM, 0o600}, {"ca.pem", ca.PEM(), 0o644}}
	for _, f := range files {
		p := filepath.Join(*out, f.name)
		if err := atomicfile.Write(p, f.data, f.perm); err != nil {
			return err
		}
		fmt.Fprintln(stdout, p)
	}
	return nil
}
