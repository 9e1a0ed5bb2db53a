package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/platform/wallet"
	"github.com/guichet/guichet/sync/envelope"
)

// QRNotice is what PayQR did: the wallet's payment and the push of the
// qr_paid command that tells the device.
type QRNotice struct {
	Payment *wallet.QRPayment
	Push    *platform.PushResult
	Command envelope.Command
}

// PayQR pays the shop's QR order ref as a customer's wallet would (the
// demo's and the tests' stand-in for a customer scanning the code), in
// the platform's store, then notifies the device that made the order with
// a signed qr_paid command (cfg), waiting up to wait for its report. The
// payment is committed before the command goes: a notification lost is
// caught up by the device's qr.expire or qr.cancel, which the wallet
// answers "paid". An order paid before is notified again, nothing more
// is taken.
func (r *Rules) PayQR(ctx context.Context, cfg platform.PublishConfig, store *platform.Store, ref string, wait time.Duration) (*QRNotice, error) {
	r.once.Do(r.init)
	var pay *wallet.QRPayment
	if err := store.UpdateState(ctx, func(st platform.State) error {
		var err error
		pay, err = r.wallet.PayQR(st, ref)
		return err
	}); err != nil {
		return nil, fmt.Errorf("authz: pay QR order: %w", err)
	}
	args, _ := json.Marshal(pay.Args)
	n := &QRNotice{Payment: pay, Command: envelope.Command{Tenant: pay.Tenant, Device: pay.Device, ID: platform.NewCommandID(),
		Name: checkout.CommandQRPaid, Args: args, Expires: time.Now().Add(platform.DefaultCommandExpiry).UnixMilli()}}
	res, err := platform.Push(ctx, cfg, store, &n.Command, false, wait)
	n.Push = res
	if err != nil {
		return n, fmt.Errorf("authz: QR order %s paid, notification: %w", ref, err)
	}
	return n, nil
}
