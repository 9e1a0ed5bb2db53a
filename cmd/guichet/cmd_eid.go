package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/guichet/guichet/eid/credential"
	"github.com/guichet/guichet/eid/credential/cose"
	"github.com/guichet/guichet/eid/credential/keydir"
)

func init() {
	register("eid", "verify a signed e-ID QR code offline, or issue one for tests", runEID)
}

const eidUsage = `usage:
  guichet eid verify [--root FILE] [--keys FILE] [--revocations FILE] [--require LEVEL] [--at TIME] QR_TEXT|-
      Verify the text of an e-ID QR code ("-" reads it from standard input, as
      from "zbarimg --raw"). Prints {"valid", "reason", "level", "expires",
      "kid", ...} as JSON; exits 0 when valid, 1 when refused.
  guichet eid issue --dir DIR [--alg ES256|EdDSA] [--level full|limited] [--subject ID]
                    [--name NAME] [--age-over-18] [--valid 24h] [--at TIME] [--revoke]
      Act as a demo platform: create in DIR (if missing) a root key pair
      (root.key, root.pem), a signing key (signer.key), a key set signed by the
      root (keyset.cose) and a revocation list (revocations.cose); then print
      the text of a new credential. --revoke also puts it on the revocation list.
      Verify it with: guichet eid verify --root DIR/root.pem --keys DIR/keyset.cose
      --revocations DIR/revocations.cose "$(guichet eid issue --dir DIR)"`

// runEID dispatches "eid verify" and "eid issue".
func runEID(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "verify":
			return runEIDVerify(e, args[1:])
		case "issue":
			return runEIDIssue(e, args[1:])
		case "-h", "-help", "--help", "help":
			fmt.Fprintln(e.stdout, eidUsage)
			return nil
		}
	}
	return fmt.Errorf("%w: want \"eid verify\" or \"eid issue\" (see guichet eid --help)", errUsage)
}

// errRefused is returned after the verdict is printed, for exit status 1.
var errRefused = errors.New("refused")

func runEIDVerify(e *env, args []string) error {
	fs := newFlags(e, "eid verify", "[--root FILE] [--keys FILE] [--revocations FILE] [--require LEVEL] [--at TIME] QR_TEXT|-")
	root := fs.String("root", credential.DefaultRootPath, "platform root public key, PEM `FILE`")
	keys := fs.String("keys", credential.DefaultKeySetPath, "signed key set `FILE`")
	revocations := fs.String("revocations", "", "signed revocation list `FILE`; without it revocation is not checked (try "+credential.DefaultRevocationsPath+")")
	require := fs.String("require", "", "required `LEVEL`: limited or full (default: either)")
	prefix := fs.String("prefix", credential.DefaultPrefix, "code `PREFIX`")
	at := fs.String("at", "", "verify as at `TIME` (RFC 3339) instead of now")
	skew := fs.Duration("skew", 0, "tolerance on the code's dates for a drifting clock")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want one QR_TEXT (quote it: it may hold spaces and $), or - for standard input", errUsage)
	}
	text := fs.Arg(0)
	if text == "-" {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, credential.MaxTextLen+2))
		if err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		text = strings.TrimRight(string(b), "\r\n")
	}
	now, err := parseAt(*at)
	if err != nil {
		return err
	}
	opts := credential.Options{Prefix: *prefix, ClockSkew: *skew}
	if *require != "" {
		if opts.Require, err = credential.ParseLevel(*require); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	v, err := credential.LoadVerifier(*root, *keys, *revocations, opts)
	if err != nil {
		return err
	}
	verdict := credential.NewVerdict(v.Verify(text, now))
	enc := json.NewEncoder(e.stdout)
	if err := enc.Encode(verdict); err != nil {
		return err
	}
	if !verdict.Valid {
		return fmt.Errorf("%w: %s", errRefused, string(verdict.Reason))
	}
	return nil
}

func runEIDIssue(e *env, args []string) error {
	fs := newFlags(e, "eid issue", "--dir DIR [--alg ES256|EdDSA] [--level LEVEL] [--subject ID] [--name NAME] [--age-over-18] [--valid D] [--at TIME] [--revoke]")
	dir := fs.String("dir", "", "demo platform `DIR`ectory (created if missing)")
	alg := fs.String("alg", "ES256", "`ALGORITHM` of keys created: ES256 or EdDSA")
	level := fs.String("level", string(credential.Full), "`LEVEL` of the credential: limited or full")
	subject := fs.String("subject", "", "subject pseudonym `ID` (default: random)")
	name := fs.String("name", "", "holder's display `NAME` (default: none)")
	adult := fs.Bool("age-over-18", false, "assert that the holder is 18 or older")
	valid := fs.Duration("valid", 24*time.Hour, "validity `DURATION` from the issue time")
	at := fs.String("at", "", "issue as at `TIME` (RFC 3339), to make expired or future codes")
	issuerName := fs.String("issuer", "guichet-demo", "iss claim `NAME`")
	prefix := fs.String("prefix", credential.DefaultPrefix, "code `PREFIX`")
	revoke := fs.Bool("revoke", false, "also put the credential on the revocation list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() != 0 {
		return fmt.Errorf("%w: want --dir DIR and no arguments", errUsage)
	}
	var a cose.Algorithm
	switch strings.ToUpper(*alg) {
	case "ES256":
		a = cose.ES256
	case "EDDSA", "ED25519":
		a = cose.EdDSA
	default:
		return fmt.Errorf("%w: unknown algorithm %q", errUsage, *alg)
	}
	lvl, err := credential.ParseLevel(*level)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	issuedAt, err := parseAt(*at)
	if err != nil {
		return err
	}
	d, err := keydir.Open(*dir, a, time.Now())
	if err != nil {
		return err
	}
	// 16 bytes of cti, 10 of default pseudonym: unrelated to each other.
	random := make([]byte, 26)
	if _, err := rand.Read(random); err != nil {
		return err
	}
	cti := random[:16]
	c := credential.Credential{ID: cti, Level: lvl, Subject: *subject, Name: *name,
		IssuedAt: issuedAt, Expires: issuedAt.Add(*valid)}
	if c.Subject == "" {
		c.Subject = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(random[16:])
	}
	if *adult {
		c.AgeOver18 = adult
	}
	text, err := d.Issuer(*issuerName, *prefix).Issue(c)
	if err != nil {
		return err
	}
	if *revoke {
		if err := d.Revoke(cti, time.Now()); err != nil {
			return err
		}
	}
	fmt.Fprintln(e.stdout, text)
	return nil
}

// parseAt returns the time named by an --at flag, or now.
func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --at: %v", errUsage, err)
	}
	return t, nil
}
