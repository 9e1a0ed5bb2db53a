package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/mqttconn"
)

// usageError is a command line the program refuses before doing anything;
// it exits 2, as a bad configuration does, where a failure to deliver
// exits 1.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// maxArgsInput bounds what is read of --args or --args-file before it is
// compacted and held to checkout.MaxArgs: room for indentation, not for a
// file given by mistake.
const maxArgsInput = 4 * checkout.MaxArgs

// maxTTL bounds --expires: the expiry is what makes a replayed old command
// useless, so it must stay short.
const maxTTL = 90 * 24 * time.Hour

// pushTimeout bounds the connection and the wait for the broker's PUBACK.
const pushTimeout = 30 * time.Second

// pushResult is what push --json prints.
type pushResult struct {
	ID      string `json:"id"`
	Topic   string `json:"topic"`
	Stream  string `json:"stream"`
	Version uint64 `json:"version"`
	Expires int64  `json:"expires"`
	// Status is the device's ("applied", "refused"), or "published" when
	// push did not wait, or "no report" when the wait ran out.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Current is the version the device holds on the stream, per its report.
	Current uint64 `json:"current,omitempty"`
}

// errPushRefused ends a push the device refused (exit 1), after the
// refusal is printed.
var errPushRefused = errors.New("push: refused by the device")

func push(ctx context.Context, cfg *config.Platform, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.String("device", "", "device `ID`")
	tenant := fs.String("tenant", "default", "`TENANT` of the device")
	name := fs.String("name", "", "command `NAME`: offline_limits, promotions, config, sync, ...")
	argsText := fs.String("args", "", "the command's args, a `JSON` object")
	argsFile := fs.String("args-file", "", "read the args from `FILE`")
	var expires time.Duration
	fs.DurationVar(&expires, "expires", 0, "the command expires this long after now (default 24h, 720h for --retain)")
	fs.DurationVar(&expires, "ttl", 0, "same as --expires")
	retain := fs.Bool("retain", false, "publish as the device's retained configuration (--name config), delivered whenever it connects")
	wait := fs.Bool("wait", true, "wait for the device's report and print it")
	waitFor := fs.Duration("wait-timeout", 30*time.Second, "how long to wait for the device's report")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{fmt.Errorf("push: %w", err)}
	}
	expiresSet := false
	fs.Visit(func(f *flag.Flag) { expiresSet = expiresSet || f.Name == "expires" || f.Name == "ttl" })
	if !expiresSet {
		expires = platform.DefaultCommandExpiry
		if *retain {
			expires = platform.DefaultConfigExpiry
		}
	}
	switch {
	case fs.NArg() > 0:
		return usagef("push: unexpected argument %q", fs.Arg(0))
	case *dev == "" || *name == "":
		return usagef("push: --device and --name are required")
	case *argsText != "" && *argsFile != "":
		return usagef("push: give --args or --args-file, not both")
	case expires < time.Second || expires > maxTTL:
		return usagef("push: --expires (--ttl) must be between 1s and %v", maxTTL)
	case *wait && (*waitFor < time.Second || *waitFor > time.Hour):
		return usagef("push: --wait-timeout must be between 1s and 1h")
	case *retain && *name != checkout.CommandConfig:
		// The retained slot holds one message per device: anything but the
		// whole configuration would be replaced by the next retained push.
		return usagef("push: --retain publishes the device's whole configuration: use --name %s (got %q)", checkout.CommandConfig, *name)
	}
	raw, from := []byte(*argsText), "--args"
	if *argsFile != "" {
		b, err := readArgsFile(*argsFile)
		if err != nil {
			return usageError{fmt.Errorf("push: --args-file: %w", err)}
		}
		raw, from = b, "--args-file"
	}
	cmdArgs, err := checkArgs(*name, raw)
	if err != nil {
		return usagef("push: %s: %v", from, err)
	}
	// Version 1 stands in for the one the store allocates, for the
	// device's own check: a bad name exits 2 here rather than later.
	cmd := envelope.Command{Tenant: *tenant, Device: *dev, ID: platform.NewCommandID(), Name: *name,
		Args: cmdArgs, Version: 1, Expires: time.Now().Add(expires).UnixMilli()}
	if b, err := json.Marshal(cmd); err != nil {
		return err
	} else if _, err := envelope.DecodeCommand(b); err != nil {
		return usagef("push: --tenant, --device or --name: %v (want [A-Za-z0-9._-], at most %d bytes)", err, envelope.MaxID)
	}
	cmd.Version = 0

	if cmd.Name == envelope.CommandSkipRejected {
		if err := recordSkip(ctx, cfg, cmd); err != nil {
			return err
		}
	}

	// An existing key only: creating one here would sign with a key that
	// no device trusts.
	key, err := keys.Load(cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("push: platform key: %w", err)
	}
	tlsConf, password, err := mqttconn.Auth(&cfg.Broker)
	if err != nil {
		return err
	}
	// The store allocates the version and holds the device key that
	// checks its report; instances share it through SQLite's locks.
	store, err := platform.OpenStore(cfg.Store)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	defer store.Close()
	var waitTime time.Duration
	if *wait {
		waitTime = *waitFor
	}
	res, err := platform.Push(ctx, platform.PublishConfig{Brokers: cfg.Broker.URLs, TLS: tlsConf,
		Username: cfg.Broker.Username, Password: password, Key: key, Timeout: pushTimeout}, store, &cmd, *retain, waitTime)
	if res == nil {
		return err
	}
	out := pushResult{ID: cmd.ID, Topic: res.Topic, Stream: cmd.Stream(), Version: cmd.Version, Expires: cmd.Expires, Status: "published"}
	switch {
	case errors.Is(err, platform.ErrNoReport):
		out.Status = "no report"
	case err != nil:
		return err
	case res.Report != nil:
		out.Status, out.Reason, out.Detail, out.Current = res.Report.Status, res.Report.Reason, res.Report.Detail, res.Report.Current
	}
	if *asJSON {
		if jerr := json.NewEncoder(stdout).Encode(out); jerr != nil {
			return jerr
		}
	} else {
		printPush(stdout, out)
	}
	switch {
	case err != nil:
		what := "stays queued for the device until it expires"
		if *retain {
			what = "stays retained for the device until it expires"
		}
		return fmt.Errorf("push: version %d is published and %s: %w", cmd.Version, what, err)
	case out.Status == envelope.StatusRefused:
		return errPushRefused
	}
	return nil
}

// printPush writes the one line an operator reads.
func printPush(w io.Writer, r pushResult) {
	switch r.Status {
	case envelope.StatusApplied:
		fmt.Fprintf(w, "applied version %d\n", r.Version)
	case envelope.StatusRefused:
		line := "refused: " + r.Reason
		if r.Detail != "" {
			line += " (" + r.Detail + ")"
		}
		if r.Reason == envelope.ReasonOld || r.Reason == envelope.ReasonReplayed {
			// The report raised the store's counter: the next push goes above it.
			line += fmt.Sprintf("; the device holds version %d, push again", r.Current)
		}
		fmt.Fprintln(w, line)
	case "no report":
		fmt.Fprintf(w, "published version %d on %s; no report from the device\n", r.Version, r.Topic)
	default:
		fmt.Fprintf(w, "published version %d on %s\n", r.Version, r.Topic)
	}
}

func readArgsFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxArgsInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxArgsInput {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxArgsInput)
	}
	return b, nil
}

// checkArgs returns args compacted, after checking them as the device
// will: a device refuses bad args only in its log, long after the push
// has reported success.
func checkArgs(name string, raw []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		switch name {
		case checkout.CommandOfflineLimits, checkout.CommandPromotions, checkout.CommandConfig, envelope.CommandSkipRejected:
			return nil, fmt.Errorf("%s needs args (a JSON object, see docs/protocol.md)", name)
		}
		return nil, nil
	}
	if len(raw) > maxArgsInput {
		return nil, fmt.Errorf("%d bytes, at most %d", len(raw), checkout.MaxArgs)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	b := buf.Bytes()
	if len(b) > checkout.MaxArgs {
		return nil, fmt.Errorf("%d bytes, at most %d", len(b), checkout.MaxArgs)
	}
	if b[0] != '{' {
		return nil, errors.New("want a JSON object")
	}
	var err error
	switch name {
	case checkout.CommandOfflineLimits:
		_, err = checkout.ParseOfflineLimits(b)
	case checkout.CommandPromotions:
		_, err = checkout.ParsePromotions(b)
	case checkout.CommandConfig:
		err = checkConfigArgs(b)
	case envelope.CommandSkipRejected:
		_, err = envelope.DecodeSkipRejected(b)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// checkConfigArgs checks the fields of a config command that the checkout
// flow reads; other fields belong to other flows and pass as they are.
func checkConfigArgs(b []byte) error {
	var c struct {
		OfflineLimits json.RawMessage `json:"offline_limits"`
		Promotions    json.RawMessage `json:"promotions"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("%w: %v", checkout.ErrArgs, err)
	}
	if len(c.OfflineLimits) > 0 && string(c.OfflineLimits) != "null" {
		if _, err := checkout.ParseOfflineLimits(c.OfflineLimits); err != nil {
			return fmt.Errorf("offline_limits: %w", err)
		}
	}
	if len(c.Promotions) > 0 && string(c.Promotions) != "null" {
		wrapped := append(append([]byte(`{"promotions":`), c.Promotions...), '}')
		if _, err := checkout.ParsePromotions(wrapped); err != nil {
			return fmt.Errorf("promotions: %w", err)
		}
	}
	return nil
}
