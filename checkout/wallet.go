package checkout

import (
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/guichet/guichet/sync/envelope"
)

// SimWallet is the reference platform's stand-in for the wallets' back
// ends: it answers the payment.* records of this flow the way the
// wallets document it. A payment needs the customer's confirmation on
// the phone (answer user_paying) when its code starts with one of
// ConfirmPrefixes or AbandonPrefixes, or its amount is above ConfirmAbove
// (0: never); the simulated customer confirms ConfirmAfter after the
// authorisation, except for AbandonPrefixes, where nobody ever confirms.
// A payment the device approved offline is never asked to confirm: the
// customer has gone.
//
// Its orders live in memory, so a query for an order it never saw (an
// authorisation applied by another instance or before a restart) is
// answered "declined: order not found", which is safe: nothing was taken.
// A production platform asks the wallet instead.
//
// It checks only the flow's own rules (never refund more than paid,
// reverse only what is not paid); the caller applies its authorisation
// rules (blocked codes, limits) before calling Decide for a payment.auth.
type SimWallet struct {
	ConfirmPrefixes []string
	AbandonPrefixes []string
	ConfirmAbove    int64
	ConfirmAfter    time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	orders map[string]*simOrder
}

type simOrder struct {
	amount    int64
	confirmAt time.Time // zero: never
	state     string    // "paying", "paid", "closed"
	refunded  int64
}

// maxSimOrders bounds the wallet's memory: when it is full, orders no
// longer waiting for the customer are forgotten.
const maxSimOrders = 100000

func (w *SimWallet) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Decide answers one record of the checkout flow; other types are
// answered "applied".
func (w *SimWallet) Decide(rec *envelope.Record) envelope.Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.orders == nil {
		w.orders = map[string]*simOrder{}
	}
	base := rec.Tenant + "/" + rec.Device + "/"
	switch rec.Type {
	case RecordPaymentAuth:
		var b AuthBody
		if err := json.Unmarshal(rec.Body, &b); err != nil || b.ID == "" || b.Amount <= 0 {
			return envelope.Result{Status: StatusDeclined, Reason: "unreadable payment"}
		}
		o := &simOrder{amount: b.Amount, state: "paid"}
		w.remember(base+b.ID, o)
		if b.Offline {
			return envelope.Result{Status: StatusApproved}
		}
		switch {
		case hasAnyPrefix(b.Code, w.AbandonPrefixes):
			o.state = "paying"
		case hasAnyPrefix(b.Code, w.ConfirmPrefixes) || (w.ConfirmAbove > 0 && b.Amount > w.ConfirmAbove):
			o.state, o.confirmAt = "paying", w.now().Add(w.ConfirmAfter)
		default:
			return envelope.Result{Status: StatusApproved}
		}
		return envelope.Result{Status: StatusUserPaying, Reason: "waiting for the customer to confirm"}
	case RecordPaymentQuery:
		var b QueryBody
		if err := json.Unmarshal(rec.Body, &b); err != nil {
			return envelope.Result{Status: StatusDeclined, Reason: "unreadable query"}
		}
		o := w.orders[base+b.ID]
		switch {
		case o == nil:
			return envelope.Result{Status: StatusDeclined, Reason: "order not found"}
		case o.state == "paying" && !o.confirmAt.IsZero() && !w.now().Before(o.confirmAt):
			o.state = "paid"
		}
		switch o.state {
		case "paid":
			return envelope.Result{Status: StatusApproved}
		case "paying":
			return envelope.Result{Status: StatusUserPaying, Reason: "waiting for the customer to confirm"}
		}
		return envelope.Result{Status: StatusDeclined, Reason: "order closed"}
	case RecordPaymentReverse:
		var b ReverseBody
		if err := json.Unmarshal(rec.Body, &b); err != nil {
			return envelope.Result{Status: StatusDeclined, Reason: "unreadable reverse"}
		}
		if o := w.orders[base+b.ID]; o != nil {
			if o.state == "paid" {
				// The device learns of the success from the query answered
				// before this reverse and refunds it itself.
				return envelope.Result{Status: StatusDeclined, Reason: "already paid: refund it"}
			}
			o.state = "closed"
		}
		return envelope.Result{Status: ResultReversed}
	case RecordPaymentRefund:
		var b RefundBody
		if err := json.Unmarshal(rec.Body, &b); err != nil || b.Amount <= 0 {
			return envelope.Result{Status: StatusDeclined, Reason: "unreadable refund"}
		}
		o := w.orders[base+b.ID]
		if o == nil {
			// Not seen here: trust the device's own accounting, checked.
			if b.Before < 0 || b.Before+b.Amount > b.Paid {
				return envelope.Result{Status: StatusDeclined, Reason: "refund above the amount paid"}
			}
			return envelope.Result{Status: ResultRefunded}
		}
		if o.state != "paid" || o.refunded+b.Amount > o.amount {
			return envelope.Result{Status: StatusDeclined, Reason: "refund above the amount paid"}
		}
		o.refunded += b.Amount
		return envelope.Result{Status: ResultRefunded}
	case RecordPaymentVoid:
		var b VoidBody
		if err := json.Unmarshal(rec.Body, &b); err != nil {
			return envelope.Result{Status: StatusDeclined, Reason: "unreadable void"}
		}
		if o := w.orders[base+b.ID]; o != nil {
			if o.state != "paid" || o.refunded > 0 {
				return envelope.Result{Status: StatusDeclined, Reason: "nothing to void"}
			}
			o.state = "closed"
		}
		return envelope.Result{Status: ResultVoided}
	}
	return envelope.Result{Status: "applied"}
}

func (w *SimWallet) remember(key string, o *simOrder) {
	if len(w.orders) >= maxSimOrders {
		for k, old := range w.orders {
			if old.state != "paying" {
				delete(w.orders, k)
			}
			if len(w.orders) < maxSimOrders*9/10 {
				break
			}
		}
	}
	w.orders[key] = o
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if p != "" && strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
