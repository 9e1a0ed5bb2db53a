package main

import (
	"encoding/json"
	"slices"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/checkout/paycode"
	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/sync/envelope"
)

// rules is the reference platform's authorisation: simple, documented
// rules standing in for the wallets' back ends.
type rules struct {
	cfg config.Rules
}

// Decide approves a payment unless its code is invalid or blocked, or its
// amount is above the limit. Other record types are applied as they are.
func (r *rules) Decide(rec *envelope.Record) envelope.Result {
	if rec.Type != checkout.RecordPaymentAuth {
		return envelope.Result{Status: "applied"}
	}
	var b checkout.AuthBody
	if err := json.Unmarshal(rec.Body, &b); err != nil {
		return envelope.Result{Status: checkout.StatusDeclined, Reason: "unreadable payment"}
	}
	if _, err := paycode.Classify(b.Code); err != nil {
		return envelope.Result{Status: checkout.StatusDeclined, Reason: "invalid payment code"}
	}
	if slices.Contains(r.cfg.DeclineCodes, b.Code) {
		return envelope.Result{Status: checkout.StatusDeclined, Reason: "wallet refused the code"}
	}
	if b.Amount > r.cfg.MaxAmount {
		return envelope.Result{Status: checkout.StatusDeclined, Reason: "amount above the limit"}
	}
	return envelope.Result{Status: checkout.StatusApproved}
}
