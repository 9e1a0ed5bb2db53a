package daemon

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/internal/tpmtest"
	"github.com/guichet/guichet/provision"
	"github.com/guichet/guichet/provision/identity"
	"github.com/guichet/guichet/provision/provisiontest"
	"github.com/guichet/guichet/sync/envelope"
)

// TestEnrolledDaemonConnectsAsItself enrols a box whose identity key is
// in a TPM (swtpm), then runs the daemon on a configuration that names
// neither the device nor a broker: it connects with mutual TLS as
// tenant/device, from its enrolment, the TPM signing the handshake.
func TestEnrolledDaemonConnectsAsItself(t *testing.T) {
	tpm := tpmtest.Start(t)
	ca := provisiontest.NewCA(t, "platform CA")
	b := provisiontest.StartBroker(t, ca)
	p := provisiontest.StartPlatform(t, b, ca)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	conf := filepath.Join(dir, "guichetd.yaml")
	base := "state_dir: " + state + "\nhardware: sim\nui: {listen: '127.0.0.1:0'}\nidentity: {kind: tpm, tpm_address: \"" + tpm.Addr + "\"}\n"
	os.WriteFile(conf, []byte(base), 0o600)

	cfg, err := config.LoadForEnrolment(conf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key, err := identity.Open(ctx, cfg.Identity)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := keys.LoadOrCreate(filepath.Join(state, "device.key"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = provision.Enrol(ctx, provision.Options{Broker: b.ProvisionURL(), CA: ca.Pool(), Code: p.Code.String(), Device: "till-7",
		Key: key, RecordKey: rk.Public().(ed25519.PublicKey), StateDir: state})
	key.Close()
	if err != nil {
		t.Fatal(err)
	}

	if e, err := provision.LoadEnrolment(state); err != nil || e.KeyKind != identity.KindTPM {
		t.Fatalf("enrolment: %+v, %v", e, err)
	}
	if cfg, err = config.LoadDaemon(conf); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	deadline := time.After(30 * time.Second)
	for online := false; !online; {
		select {
		case s := <-p.Status:
			online = strings.HasPrefix(s, `guichet/v1/shop1/till-7/up/status {"online":true`)
		case err := <-done:
			t.Fatalf("daemon stopped: %v", err)
		case <-deadline:
			t.Fatalf("the enrolled daemon did not connect\n%s", b.Log())
		}
	}
	// The health report goes over the same session, through the broker's
	// ACL, signed with the record key.
	select {
	case m := <-p.Health:
		if m[0] != "guichet/v1/shop1/till-7/up/health" {
			t.Fatalf("health on %q", m[0])
		}
		payload, err := envelope.Open(rk.Public().(ed25519.PublicKey), []byte(m[1]))
		if err != nil {
			t.Fatalf("health report: %v", err)
		}
		h, err := envelope.DecodeHealth(payload)
		if err != nil || h.Device != "till-7" || len(h.Devices) == 0 || h.DiskTotal == 0 {
			t.Fatalf("health report %+v, %v", h, err)
		}
	case err := <-done:
		t.Fatalf("daemon stopped: %v", err)
	case <-deadline:
		t.Fatalf("no health report\n%s", b.Log())
	}
	if cfg.Device.ID != "till-7" || cfg.Device.Tenant != "shop1" || cfg.Device.Site != "rue-haute" {
		t.Fatalf("names not taken from the enrolment: %+v", cfg.Device)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("daemon: %v", err)
	}

	// A configuration that names another device is refused before start.
	os.WriteFile(conf, []byte(base+"device: {id: till-8}\n"), 0o600)
	if cfg, err = config.LoadDaemon(conf); err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), "device.id") {
		t.Fatalf("contradicting device.id: %v", err)
	}
}
