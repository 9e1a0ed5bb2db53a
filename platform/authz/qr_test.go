package authz

import (
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/platform/wallet"
)

// TestQROrdersPaidAcrossRestarts: the platform keeps the shop's QR
// orders in its store; a payment made between two restarts is what the
// device's cancel is answered with, a cancelled order is refused, and the
// notice goes out as a qr_paid command for the device that made it.
func TestQROrdersPaidAcrossRestarts(t *testing.T) {
	broker := brokertest.StartMosquitto(t)
	_, platKey, _ := ed25519.GenerateKey(nil)
	p := newPlatformRig(t, func() *Rules { return &Rules{} })
	cfg := platform.PublishConfig{Brokers: []string{broker.URL()}, Key: platKey, Timeout: 10 * time.Second}
	ctx := context.Background()
	expires := time.Now().Add(time.Hour).UnixMilli()
	for _, ref := range []string{"Qpaid", "Qcancel"} {
		if res := p.send(ref, checkout.RecordQROrder, checkout.QROrderBody{Ref: ref, Amount: 1234, Currency: "CNY", Expires: expires}); res.Status != checkout.ResultQROpen {
			t.Fatalf("qr.order %s: %+v", ref, res)
		}
	}
	p.restart()
	n, err := p.app.Decider.(*Rules).PayQR(ctx, cfg, p.store, "Qpaid", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n.Command.Name != checkout.CommandQRPaid || n.Command.Tenant != "t" || n.Command.Device != "d" || n.Command.Version == 0 || n.Push == nil {
		t.Fatalf("notice %+v", n)
	}
	if a, err := checkout.ParseQRPaid(n.Command.Args); err != nil || a.Ref != "Qpaid" || a.Amount != 1234 {
		t.Fatalf("notice args %s: %v", n.Command.Args, err)
	}
	p.restart()
	if res := p.send("Qpaid:cancel", checkout.RecordQRCancel, checkout.QRCloseBody{Ref: "Qpaid"}); res.Status != checkout.ResultQRPaid {
		t.Fatalf("cancel of an order paid before a restart: %+v", res)
	}
	if res := p.send("Qcancel:cancel", checkout.RecordQRCancel, checkout.QRCloseBody{Ref: "Qcancel"}); res.Status != checkout.ResultQRCancelled {
		t.Fatalf("cancel: %+v", res)
	}
	p.restart()
	if _, err := p.app.Decider.(*Rules).PayQR(ctx, cfg, p.store, "Qcancel", 0); !errors.Is(err, wallet.ErrQRClosed) {
		t.Fatalf("pay after cancel: %v", err)
	}
	// Paid again: the notice goes again under a new version, nothing more
	// is taken.
	again, err := p.app.Decider.(*Rules).PayQR(ctx, cfg, p.store, "Qpaid", 0)
	if err != nil || !again.Payment.Again || again.Command.Version <= n.Command.Version {
		t.Fatalf("pay again: %+v %v", again, err)
	}
}
