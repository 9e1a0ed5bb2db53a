// Package authz is the reference platform's authorisation: simple,
// documented rules standing in for the wallets' back ends, in front of the
// simulated wallet (wallet.SimWallet) that answers queries, reverses,
// refunds and voids. guichet-platform uses it, and so do tests that stand
// up a platform in process; the platform calls DecideIn, so the wallet's
// orders are kept in its store with the records.
package authz

import (
	"cmp"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/checkout/paycode"
	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/platform/wallet"
	"github.com/guichet/guichet/sync/envelope"
)

// The platform must find DecideIn, or the wallet's orders would live in
// memory again without anything failing.
var _ platform.StatefulDecider = (*Rules)(nil)

// Defaults of the simulated customer, the same as config.Rules's: codes
// starting 1555 are confirmed on the phone 3 s after the authorisation,
// codes starting 1556 never are (the customer walks away), and amounts
// above 1000.00 need confirmation.
var (
	defaultConfirmPrefixes = []string{"1555"}
	defaultAbandonPrefixes = []string{"1556"}
)

const (
	defaultConfirmAbove = 100000
	defaultConfirmAfter = 3 * time.Second
)

// Rules decide authorisations. The zero value declines nothing, has no
// amount limit and has the default simulated customer. Set the fields
// before the first Decide or DecideIn: they are read once.
type Rules struct {
	// MaxAmount in minor units: above it a payment is declined (0: none).
	MaxAmount int64
	// DeclineCodes are payment codes always declined (a blocked wallet).
	DeclineCodes []string
	// ConfirmPrefixes, AbandonPrefixes, ConfirmAbove and ConfirmAfter set
	// the simulated customer (wallet.SimWallet, which documents them).
	// A nil list or a zero value means the default; an empty, non-nil
	// list means no such code.
	ConfirmPrefixes []string
	AbandonPrefixes []string
	ConfirmAbove    int64
	ConfirmAfter    time.Duration
	// CodeTTL, OfflineWindow and SingleUse are the life of a customer's
	// code (wallet.SimWallet documents them); zero keeps codes forever
	// and reusable.
	CodeTTL       time.Duration
	OfflineWindow time.Duration
	SingleUse     bool

	once   sync.Once
	wallet wallet.SimWallet
}

func (r *Rules) init() {
	r.wallet.ConfirmPrefixes = orDefault(r.ConfirmPrefixes, defaultConfirmPrefixes)
	r.wallet.AbandonPrefixes = orDefault(r.AbandonPrefixes, defaultAbandonPrefixes)
	r.wallet.ConfirmAbove = cmp.Or(r.ConfirmAbove, defaultConfirmAbove)
	r.wallet.ConfirmAfter = cmp.Or(r.ConfirmAfter, defaultConfirmAfter)
	r.wallet.CodeTTL, r.wallet.OfflineWindow, r.wallet.SingleUse = r.CodeTTL, r.OfflineWindow, r.SingleUse
}

func orDefault(list, def []string) []string {
	if list == nil {
		return def
	}
	return list
}

// Decide approves a payment unless its code is invalid or blocked, or its
// amount is above the limit; payments that need the customer's
// confirmation are answered user_paying and then decided by the queries
// that follow. Queries, reverses, refunds and voids are answered by the
// simulated wallet (wallet.SimWallet), whose orders Decide keeps in
// memory: they are lost with the process. Other record types are applied
// as they are.
func (r *Rules) Decide(rec *envelope.Record) envelope.Result {
	res, _ := r.decide(rec, func() (envelope.Result, error) { return r.wallet.Decide(rec), nil })
	return res
}

// DecideIn decides as Decide does, with the wallet's orders in st: the
// platform passes the transaction applying the record, so the orders
// survive a restart and follow the records' commit or rollback. An error
// is st's, and fails the batch.
func (r *Rules) DecideIn(st platform.State, rec *envelope.Record) (envelope.Result, error) {
	return r.decide(rec, func() (envelope.Result, error) { return r.wallet.DecideIn(st, rec) })
}

// decide applies the rules, and asks wallet for what they let through.
func (r *Rules) decide(rec *envelope.Record, wallet func() (envelope.Result, error)) (envelope.Result, error) {
	r.once.Do(r.init)
	switch rec.Type {
	case checkout.RecordPaymentAuth:
		var b checkout.AuthBody
		if err := json.Unmarshal(rec.Body, &b); err != nil {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "unreadable payment"}, nil
		}
		if _, err := paycode.Classify(b.Code); err != nil {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "invalid payment code"}, nil
		}
		if slices.Contains(r.DeclineCodes, b.Code) {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "wallet refused the code"}, nil
		}
		if r.MaxAmount > 0 && b.Amount > r.MaxAmount {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "amount above the limit"}, nil
		}
		return wallet()
	case checkout.RecordPaymentQuery, checkout.RecordPaymentReverse, checkout.RecordPaymentRefund, checkout.RecordPaymentVoid,
		checkout.RecordQROrder, checkout.RecordQRCancel, checkout.RecordQRExpire:
		return wallet()
	}
	return envelope.Result{Status: "applied"}, nil
}
