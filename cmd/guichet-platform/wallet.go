package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/platform/authz"
	"github.com/guichet/guichet/sync/mqttconn"
)

// walletResult is what wallet pay --json prints.
type walletResult struct {
	Ref      string `json:"ref"`
	Tenant   string `json:"tenant"`
	Device   string `json:"device"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// Again is set when the order was paid before: only the notification
	// went again.
	Again bool `json:"again,omitempty"`
	// Notified is the device's report of the qr_paid command: "applied",
	// "refused", or "no report".
	Notified string `json:"notified"`
	Reason   string `json:"reason,omitempty"`
}

// walletCmd is the simulated wallet's customer: `wallet pay REF` pays the
// shop's QR order REF as a customer scanning it would, and notifies the
// till.
func walletCmd(ctx context.Context, cfg *config.Platform, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "pay" {
		return usagef("wallet: want: wallet pay REF [--wait-timeout 30s] [--json]")
	}
	fs := flag.NewFlagSet("wallet pay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	waitFor := fs.Duration("wait-timeout", 30*time.Second, "how long to wait for the till's report")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	// The reference first, as the demo types it; flags after it too.
	rest := args[1:]
	var ref string
	if len(rest) > 0 && len(rest[0]) > 0 && rest[0][0] != '-' {
		ref, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{fmt.Errorf("wallet pay: %w", err)}
	}
	if ref == "" && fs.NArg() == 1 {
		ref = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usagef("wallet pay: unexpected argument %q", fs.Arg(0))
	}
	if ref == "" || len(ref) > checkout.MaxRef {
		return usagef("wallet pay: give the order's reference (shown on the cashier's screen), at most %d characters", checkout.MaxRef)
	}
	if *waitFor < time.Second || *waitFor > time.Hour {
		return usagef("wallet pay: --wait-timeout must be between 1s and 1h")
	}
	key, err := keys.Load(cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("wallet pay: platform key: %w", err)
	}
	tlsConf, password, err := mqttconn.Auth(&cfg.Broker)
	if err != nil {
		return err
	}
	store, err := platform.OpenStore(cfg.Store)
	if err != nil {
		return fmt.Errorf("wallet pay: %w", err)
	}
	defer store.Close()
	rules := &authz.Rules{CodeTTL: cfg.Rules.CodeTTL.D(), OfflineWindow: cfg.Rules.OfflineWindow.D()}
	n, err := rules.PayQR(ctx, platform.PublishConfig{Brokers: cfg.Broker.URLs, TLS: tlsConf, Username: cfg.Broker.Username,
		Password: password, Key: key, Timeout: pushTimeout}, store, ref, *waitFor)
	if n == nil {
		return err
	}
	out := walletResult{Ref: ref, Tenant: n.Payment.Tenant, Device: n.Payment.Device, Amount: n.Payment.Args.Amount,
		Currency: n.Payment.Args.Currency, Again: n.Payment.Again, Notified: "no report"}
	if n.Push != nil && n.Push.Report != nil {
		out.Notified, out.Reason = n.Push.Report.Status, n.Push.Report.Reason
	}
	if *asJSON {
		if jerr := json.NewEncoder(stdout).Encode(out); jerr != nil {
			return jerr
		}
	} else {
		what := "paid"
		if out.Again {
			what = "already paid"
		}
		fmt.Fprintf(stdout, "%s %s %s %s for %s/%s; till notified: %s\n", what, ref, checkout.FormatMinor(out.Amount, out.Currency), out.Currency, out.Tenant, out.Device, out.Notified)
	}
	if err != nil {
		return fmt.Errorf("wallet pay: the order is paid; the till learns it at the latest when the order expires: %w", err)
	}
	return nil
}
