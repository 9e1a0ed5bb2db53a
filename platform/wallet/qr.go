package wallet

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/sync/envelope"
)

// The shop's QR orders (checkout/qr.go) as the simulated wallet keeps
// them: one per reference, whichever device made it, because the
// customer's wallet pays a reference, not a device. A reference held by
// one device is refused to another.

// qrPrefix keeps the QR orders apart in the shared store.
const qrPrefix = "simwallet/qr/"

// simQR is one QR order as stored.
type simQR struct {
	Tenant   string `json:"t"`
	Device   string `json:"d"`
	Amount   int64  `json:"a"`
	Currency string `json:"c"`
	// Expires is when the order stops being payable, Unix milliseconds.
	Expires int64 `json:"e"`
	// State is open, paid, cancelled or expired.
	State string `json:"s"`
	// PaidAt is when the wallet paid, Unix milliseconds.
	PaidAt int64 `json:"p,omitempty"`
}

// Errors of PayQR: the customer's wallet is refused, nothing is taken.
var (
	ErrQRUnknown = errors.New("sim wallet: no such QR order")
	ErrQRClosed  = errors.New("sim wallet: QR order cancelled")
	ErrQRExpired = errors.New("sim wallet: QR order expired")
)

// QRPayment is what PayQR did: the order it paid and the device to
// notify with a qr_paid command (Args).
type QRPayment struct {
	Tenant, Device string
	Args           checkout.QRPaidArgs
	// Again is set when the order was paid before: the notification is
	// sent again, nothing more is taken.
	Again bool
}

// PayQR pays order ref in st, as a customer's wallet does when it scans
// the shop's code: refused if the platform never heard of the order, or
// it was cancelled, or it expired (by its expiry or the device's
// qr.expire); paying a paid order again takes nothing and returns it
// with Again set, so that a notification lost can be sent again. A nil
// st is Decide's memory.
func (w *SimWallet) PayQR(st OrderStore, ref string) (*QRPayment, error) {
	if st == nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.mem == nil {
			w.mem = &memOrders{m: map[string][]byte{}}
		}
		st = w.mem
	}
	o, err := getQR(st, ref)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, fmt.Errorf("%w: %s", ErrQRUnknown, ref)
	}
	now := w.now().UnixMilli()
	switch {
	case o.State == "cancelled":
		return nil, fmt.Errorf("%w: %s", ErrQRClosed, ref)
	case o.State == "expired" || o.State == "open" && now >= o.Expires:
		return nil, fmt.Errorf("%w: %s", ErrQRExpired, ref)
	}
	p := &QRPayment{Tenant: o.Tenant, Device: o.Device, Again: o.State == "paid"}
	if !p.Again {
		o.State, o.PaidAt = "paid", now
		if err := putQR(st, ref, o); err != nil {
			return nil, err
		}
	}
	p.Args = checkout.QRPaidArgs{Ref: ref, Amount: o.Amount, Currency: o.Currency, At: o.PaidAt}
	return p, nil
}

// decideQR answers a device's qr.order, qr.cancel or qr.expire record.
func (w *SimWallet) decideQR(st OrderStore, rec *envelope.Record) (envelope.Result, error) {
	if rec.Type == checkout.RecordQROrder {
		b, err := checkout.ParseQROrderBody(rec.Body)
		if err != nil {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "unreadable QR order"}, nil
		}
		o, err := getQR(st, b.Ref)
		switch {
		case err != nil:
			return envelope.Result{}, err
		case o != nil && (o.Tenant != rec.Tenant || o.Device != rec.Device):
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "reference in use"}, nil
		case o != nil:
			// Sent again from a renumbered outbox: its state as it is.
			return envelope.Result{Status: o.State}, nil
		}
		o = &simQR{Tenant: rec.Tenant, Device: rec.Device, Amount: b.Amount, Currency: b.Currency, Expires: b.Expires, State: "open"}
		return envelope.Result{Status: checkout.ResultQROpen}, putQR(st, b.Ref, o)
	}
	b, err := checkout.ParseQRCloseBody(rec.Body)
	if err != nil {
		return envelope.Result{Status: checkout.StatusDeclined, Reason: "unreadable QR close"}, nil
	}
	end := "cancelled"
	if rec.Type == checkout.RecordQRExpire {
		end = "expired"
	}
	o, err := getQR(st, b.Ref)
	switch {
	case err != nil:
		return envelope.Result{}, err
	case o == nil:
		// Never heard of: nothing can have been paid.
		return envelope.Result{Status: end}, nil
	case o.Tenant != rec.Tenant || o.Device != rec.Device:
		return envelope.Result{Status: checkout.StatusDeclined, Reason: "reference in use"}, nil
	case o.State == "paid":
		// The wallet paid first: the device learns it here if the
		// notification was lost.
		return envelope.Result{Status: checkout.ResultQRPaid}, nil
	case o.State != "open":
		return envelope.Result{Status: o.State}, nil
	}
	o.State = end
	return envelope.Result{Status: end}, putQR(st, b.Ref, o)
}

func getQR(st OrderStore, ref string) (*simQR, error) {
	v, ok, err := st.Get(qrPrefix + ref)
	if err != nil {
		return nil, fmt.Errorf("sim wallet: read QR order %s: %w", ref, err)
	}
	if !ok {
		return nil, nil
	}
	o := &simQR{}
	if err := json.Unmarshal(v, o); err != nil {
		return nil, fmt.Errorf("sim wallet: QR order %s unreadable: %w", ref, err)
	}
	return o, nil
}

func putQR(st OrderStore, ref string, o *simQR) error {
	v, _ := json.Marshal(o)
	if err := st.Put(qrPrefix+ref, v); err != nil {
		return fmt.Errorf("sim wallet: write QR order %s: %w", ref, err)
	}
	return nil
}
