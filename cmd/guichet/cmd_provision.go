package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/provision"
	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/provision/identity"
	"github.com/guichet/guichet/sync/envelope"
)

func init() {
	register("provision", "enrol this box with a one-time code from the platform", runProvision)
}

func runProvision(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "provision", "--code CODE --broker ssl://HOST:PORT [--ca FILE] [--device NAME] [--force]")
	code := fs.String("code", "", "the one-time `CODE` from guichet-platform enrol-code")
	broker := fs.String("broker", "", "the provisioning broker, ssl://HOST:PORT")
	caFile := fs.String("ca", "", "PEM `FILE` of the CA that signed the provisioning broker's certificate (default: the system's)")
	device := fs.String("device", "", "the box's `NAME` (default: device.id in the configuration, else the host name)")
	force := fs.Bool("force", false, "enrol again over an existing enrolment")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the platform's answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *code == "" || *broker == "" {
		return fmt.Errorf("%w: --code and --broker are needed", errUsage)
	}
	if _, err := claim.ParseCode(*code); err != nil {
		return fmt.Errorf("%w: --code: %v", errUsage, err)
	}
	cfg, err := config.LoadForEnrolment(e.configPath)
	if err != nil {
		return err
	}
	name, err := deviceName(*device, cfg)
	if err != nil {
		return err
	}
	var pool *x509.CertPool
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return fmt.Errorf("%w: --ca: %v", errUsage, err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%w: --ca: no PEM certificate in %s", errUsage, *caFile)
		}
	}
	key, err := identity.Open(ctx, cfg.Identity)
	if err != nil {
		return err
	}
	defer key.Close()
	rk, err := keys.LoadOrCreate(filepath.Join(cfg.StateDir, "device.key"))
	if err != nil {
		return err
	}
	enr, err := provision.Enrol(ctx, provision.Options{Broker: *broker, CA: pool, Code: *code, Device: name,
		Key: key, RecordKey: rk.Public().(ed25519.PublicKey), StateDir: cfg.StateDir, Force: *force, Timeout: *timeout,
		Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	var unknownCA x509.UnknownAuthorityError
	if errors.As(err, &unknownCA) {
		return fmt.Errorf("%w (the provisioning broker's certificate is from a CA this box does not trust: give it with --ca FILE)", err)
	}
	if err != nil {
		return err
	}
	where := "in the TPM"
	if key.Kind().Weaker() {
		where = "in a file (weaker: it can be copied)"
	}
	fmt.Fprintf(e.stdout, "enrolled as %s/%s (site %s, role %s); device key %s\n", enr.Tenant, enr.Device, enr.Site, enr.Role, where)
	return nil
}

// deviceName is --device, else the configuration's device.id, else the
// host name when it is a valid device name.
func deviceName(flag string, cfg *config.Daemon) (string, error) {
	name := flag
	if name == "" {
		name = cfg.Device.ID
	}
	if name == "" {
		h, err := os.Hostname()
		if err != nil || !envelope.ValidName(h) {
			return "", fmt.Errorf("%w: --device NAME is needed (the host name %q is not a device name)", errUsage, h)
		}
		name = h
	}
	if !envelope.ValidName(name) {
		return "", fmt.Errorf("%w: --device: %q is not a device name (letters, digits, '-', '_' or '.', at most %d)", errUsage, name, envelope.MaxID)
	}
	return name, nil
}
