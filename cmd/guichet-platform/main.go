// Command guichet-platform is the reference central platform used by the
// demo and the tests. It speaks the same MQTT protocol as a production
// platform: it applies each device's records exactly once into its own
// SQLite store and answers with signed acks and authorisation results.
//
// Usage:
//
//	guichet-platform [--config FILE] [run]          consume and ack until SIGTERM
//	guichet-platform [--config FILE] stats [--json] records applied, duplicates, rejects, outboxes, identity
//	                                                 changes, conflicts and blocked queues per device; last events
//	guichet-platform [--config FILE] devices [--json] each enrolled device online or offline, last seen,
//	                                                 version, queue depth and oldest record, degraded peripherals
//	guichet-platform [--config FILE] enrol --device ID [--tenant T] --key BASE64
//	guichet-platform [--config FILE] pubkey         print the platform's public key
//	guichet-platform [--config FILE] push --device ID [--tenant T] --name NAME [--args JSON | --args-file FILE]
//	                                      [--expires 24h] [--retain] [--wait=false] [--wait-timeout 30s] [--json]
//	                                                 sign and send one command to a device (--retain: as its
//	                                                 retained configuration) under the next version of its
//	                                                 stream, wait for the device's report and print
//	                                                 "applied version N" (or "refused: REASON", exit 1)
//	guichet-platform [--config FILE] enrol-code --tenant T --site S --role till|counter [--expires 24h] [--qr FILE] [--term]
//	                                                 print a one-time enrolment code (first line) and its QR code
//	guichet-platform [--config FILE] device list [--json]
//	guichet-platform [--config FILE] device revoke TENANT/DEVICE
//	guichet-platform [--config FILE] device replace TENANT/DEVICE [--expires 24h] [--qr FILE] [--term]
//	                                                 revoke the device now, print a code for its replacement
//	guichet-platform [--config FILE] ca show          print the platform's CA certificate (PEM)
//	guichet-platform [--config FILE] ca broker-cert --host H [--host H2] --out DIR [--valid 8760h]
//	guichet-platform [--config FILE] ca platform-cert --out DIR [--valid 8760h]
//	guichet-platform [--config FILE] ca client-cert --cn NAME --out DIR [--valid 8760h]
//	                                                 write NAME.pem, NAME.key and ca.pem in DIR
//	guichet-platform [--config FILE] ca crl           write the revocation list to enrol.crl_file
//	guichet-platform [--config FILE] wallet pay REF [--wait-timeout 30s] [--json]
//	                                                 the simulated wallet pays the shop's QR order REF, as a
//	                                                 customer scanning it would, and notifies the till
//	                                                 (qr_paid); refused if unknown, expired or cancelled
//
// Exit status: 0 done, 1 failed (broker unreachable, store or key
// unreadable), 2 refused before doing anything (bad configuration or
// command line).
package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/internal/logging"
	"github.com/guichet/guichet/internal/sdnotify"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/platform/admin"
	"github.com/guichet/guichet/platform/authz"
	"github.com/guichet/guichet/sync/mqttconn"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("guichet-platform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/guichet/platform.yaml", "configuration `FILE`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: guichet-platform [--config FILE] [run | stats [--json] | devices [--json] | enrol --device ID [--tenant T] --key BASE64 | pubkey |")
		fmt.Fprintln(stderr, "       push --device ID [--tenant T] --name NAME [--args JSON | --args-file FILE] [--expires 24h] [--retain] [--wait=false] [--json] |")
		fmt.Fprintln(stderr, "       enrol-code --tenant T --site S --role till|counter [--expires 24h] [--qr FILE] [--term] |")
		fmt.Fprintln(stderr, "       device list [--json] | device revoke TENANT/DEVICE | device replace TENANT/DEVICE [--expires 24h] [--qr FILE] [--term] |")
		fmt.Fprintln(stderr, "       ca show | ca broker-cert --host H --out DIR [--valid D] | ca platform-cert --out DIR [--valid D] |")
		fmt.Fprintln(stderr, "       ca client-cert --cn NAME --out DIR [--valid D] | ca crl |")
		fmt.Fprintln(stderr, "       wallet pay REF [--wait-timeout 30s] [--json]]")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cmd, rest := "run", fs.Args()
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	cfg, err := config.LoadPlatform(*path)
	if err != nil {
		fmt.Fprintln(stderr, "guichet-platform:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "run":
		err = serve(ctx, cfg, stderr)
	case "stats":
		err = stats(ctx, cfg, rest, stdout)
	case "devices":
		err = devices(ctx, cfg, rest, stdout, stderr)
	case "enrol":
		err = enrolKey(ctx, cfg, rest, stderr)
	case "push":
		err = push(ctx, cfg, rest, stdout, stderr)
	case "enrol-code":
		err = enrolCode(ctx, cfg, rest, stdout, stderr)
	case "device":
		err = deviceCmd(ctx, cfg, rest, stdout, stderr)
	case "ca":
		err = caCmd(ctx, cfg, rest, stdout, stderr)
	case "wallet":
		err = walletCmd(ctx, cfg, rest, stdout, stderr)
	case "pubkey":
		k, kerr := keys.LoadOrCreate(cfg.KeyFile)
		if err = kerr; err == nil {
			fmt.Fprintln(stdout, keys.EncodePublic(k.Public().(ed25519.PublicKey)))
		}
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "guichet-platform:", err)
		if errors.As(err, new(usageError)) {
			return 2
		}
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg *config.Platform, stderr io.Writer) error {
	log := logging.New(stderr, cfg.LogLevel)
	key, err := keys.LoadOrCreate(cfg.KeyFile)
	if err != nil {
		return err
	}
	tlsConf, password, err := mqttconn.Auth(&cfg.Broker)
	if err != nil {
		return err
	}
	store, svc, err := serveStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if svc != nil {
		wg.Add(1)
		go func() { defer wg.Done(); svc.KeepCRL(ctx, crlRefresh) }()
	}
	srv := platform.NewServer(platform.ServerConfig{
		Instance: cfg.Instance, Brokers: cfg.Broker.URLs, TLS: tlsConf, Username: cfg.Broker.Username, Password: password,
		Shared: cfg.Shared, Key: key, BatchMax: cfg.BatchMax, BatchDelay: cfg.BatchDelay.D(), Logger: log, Handlers: svc.Handlers(),
	}, store, &authz.Rules{MaxAmount: cfg.Rules.MaxAmount, DeclineCodes: cfg.Rules.DeclineCodes,
		ConfirmPrefixes: cfg.Rules.ConfirmPrefixes, AbandonPrefixes: cfg.Rules.AbandonPrefixes,
		ConfirmAbove: cfg.Rules.ConfirmAbove, ConfirmAfter: cfg.Rules.ConfirmAfter.D(),
		CodeTTL: cfg.Rules.CodeTTL.D(), OfflineWindow: cfg.Rules.OfflineWindow.D()})
	// The admin endpoint is for operators: a port in use (a second
	// instance on the host) is logged and the platform applies records
	// without it rather than stopping payments.
	if ln, err := listenAdmin(cfg); err != nil {
		log.Error("admin endpoint off", "admin", cfg.Admin, "err", err)
	} else {
		h := admin.Handler(admin.Config{Store: store, Refused: srv.Refused, EnrolRefused: svc.Refused, Logger: log})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := admin.Serve(ctx, ln, h); err != nil {
				log.Error("admin endpoint", "err", err)
			}
		}()
		log.Info("admin endpoint", "url", "http://"+ln.Addr().String(), "paths", "/devices /metrics")
	}
	log.Info("guichet-platform running", "instance", cfg.Instance, "brokers", cfg.Broker.URLs)
	// Under systemd (Type=notify): ready once the store is open and the
	// admin endpoint listens (the broker may come later: the server
	// retries); then the watchdog's pings, and STOPPING=1 at the end.
	notify := sdnotify.FromEnv()
	if _, err := notify.Notify(sdnotify.Ready); err != nil {
		log.Warn("readiness not notified", "err", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		notify.RunWatchdog(ctx, sdnotify.WatchdogInterval(), nil)
		notify.Notify(sdnotify.Stopping)
	}()
	err = srv.Run(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	log.Info("guichet-platform stopped", "refused", srv.Refused(), "enrolment_refused", svc.Refused())
	return err
}

// Stats is what `stats --json` prints.
type Stats struct {
	Devices    []platform.DeviceStats `json:"devices"`
	Applied    uint64                 `json:"applied"`
	Duplicates uint64                 `json:"duplicates"`
	Rejected   uint64                 `json:"rejected"`
	// Events are the last identity changes, conflicts and skips.
	Events []platform.Event `json:"events"`
}

// maxEvents bounds the events stats prints.
const maxEvents = 50

func stats(ctx context.Context, cfg *config.Platform, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store, err := platform.OpenStore(cfg.Store)
	if err != nil {
		return err
	}
	defer store.Close()
	devs, err := store.Stats(ctx)
	if err != nil {
		return err
	}
	events, err := store.Events(ctx, maxEvents)
	if err != nil {
		return err
	}
	st := Stats{Devices: devs, Events: events}
	if st.Devices == nil {
		st.Devices = []platform.DeviceStats{}
	}
	if st.Events == nil {
		st.Events = []platform.Event{}
	}
	for _, d := range devs {
		st.Applied += d.Applied
		st.Duplicates += d.Duplicates
		st.Rejected += d.Rejected
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(stdout, "%-12s %-20s %10s %10s %10s %8s %8s %9s %7s\n", "TENANT", "DEVICE", "APPLIED", "DUPLICATES", "REJECTED", "OUTBOXES", "IDCHANGE", "CONFLICTS", "BLOCKED")
	for _, d := range devs {
		fmt.Fprintf(stdout, "%-12s %-20s %10d %10d %10d %8d %8d %9d %7d\n", d.Tenant, d.Device, d.Applied, d.Duplicates, d.Rejected,
			d.Outboxes, d.IdentityChanges, d.Conflicts, d.Blocked)
	}
	if len(events) > 0 {
		fmt.Fprintln(stdout, "\nEVENTS (last", maxEvents, "at most)")
		for _, e := range events {
			fmt.Fprintf(stdout, "%s %s/%s outbox %q %s seq %d: %s\n", time.UnixMilli(e.At).UTC().Format(time.RFC3339), e.Tenant, e.Device, e.Outbox, e.Kind, e.Seq, e.Detail)
		}
	}
	return nil
}

func enrolKey(ctx context.Context, cfg *config.Platform, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("enrol", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dev := fs.String("device", "", "device `ID`")
	tenant := fs.String("tenant", "default", "`TENANT` of the device")
	keyText := fs.String("key", "", "the device's public key, base64 (guichet keygen prints it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dev == "" || *keyText == "" {
		return errors.New("enrol: --device and --key are required")
	}
	k, err := keys.ParsePublic(*keyText)
	if err != nil {
		return fmt.Errorf("enrol: --key: %w", err)
	}
	store, err := platform.OpenStore(cfg.Store)
	if err != nil {
		return err
	}
	defer store.Close()
	return store.Enrol(ctx, *tenant, *dev, k)
}
