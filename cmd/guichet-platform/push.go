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

// maxTTL bounds --ttl: the expiry is what makes a replayed old command
// useless, so it must stay short.
const maxTTL = 90 * 24 * time.Hour

// pushTimeout bounds the connection and the wait for the broker's PUBACK.
const pushTimeout = 30 * time.Second

// pushResult is what push prints.
type pushResult struct {
	ID    string `json:"id"`
	Topic string `json:"topic"`
}

func push(ctx context.Context, cfg *config.Platform, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.String("device", "", "device `ID`")
	tenant := fs.String("tenant", "default", "`TENANT` of the device")
	name := fs.String("name", "", "command `NAME`: offline_limits, promotions, config, sync, ...")
	argsText := fs.String("args", "", "the command's args, a `JSON` object")
	argsFile := fs.String("args-file", "", "read the args from `FILE`")
	ttl := fs.Duration("ttl", 24*time.Hour, "the command expires this long after now (not checked on the retained config)")
	retain := fs.Bool("retain", false, "publish as the device's retained configuration (--name config), delivered whenever it connects")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{fmt.Errorf("push: %w", err)}
	}
	switch {
	case fs.NArg() > 0:
		return usagef("push: unexpected argument %q", fs.Arg(0))
	case *dev == "" || *name == "":
		return usagef("push: --device and --name are required")
	case *argsText != "" && *argsFile != "":
		return usagef("push: give --args or --args-file, not both")
	case *ttl < time.Second || *ttl > maxTTL:
		return usagef("push: --ttl must be between 1s and %v", maxTTL)
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
	cmd := envelope.Command{Tenant: *tenant, Device: *dev, ID: platform.NewCommandID(), Name: *name,
		Args: cmdArgs, NotAfter: time.Now().Add(*ttl).UnixMilli()}
	// The device's own check, so that a bad name exits 2 here rather
	// than failing in Publish.
	if b, err := json.Marshal(cmd); err != nil {
		return err
	} else if _, err := envelope.DecodeCommand(b); err != nil {
		return usagef("push: --tenant, --device or --name: %v (want [A-Za-z0-9._-], at most %d bytes)", err, envelope.MaxID)
	}

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
	topic, err := platform.Publish(ctx, platform.PublishConfig{Brokers: cfg.Broker.URLs, TLS: tlsConf,
		Username: cfg.Broker.Username, Password: password, Key: key, Timeout: pushTimeout}, cmd, *retain)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(pushResult{ID: cmd.ID, Topic: topic})
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
