package checkout

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/guichet/guichet/sync/envelope"

	"github.com/guichet/guichet/sync/outbox"
)

// Refund is one refund of a payment.
type Refund struct {
	// N numbers the payment's refunds 1, 2, ...; "late" is the full
	// refund of a success that came after the reverse.
	N      string `json:"n"`
	Amount int64  `json:"amount"`
	// Status is pending until the platform answers refunded or declined.
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
	// By is the cashier who refunded and the supervisor who authorised
	// it; none for the flow's own refund of a late success.
	By *Operator `json:"by,omitempty"`
}

// RefundBody is the body of a payment.refund record. Paid and Before let
// the platform check the refund never exceeds the payment.
type RefundBody struct {
	ID       string `json:"id"`
	N        string `json:"n"`
	Amount   int64  `json:"amount"`
	Paid     int64  `json:"paid"`
	Before   int64  `json:"before"` // refunded before this one, pending included
	Currency string `json:"currency"`
	Reason   string `json:"reason,omitempty"`
}

// QueryBody is the body of a payment.query record.
type QueryBody struct {
	ID string `json:"id"`
	N  int    `json:"n"`
}

// ReverseBody is the body of a payment.reverse record.
type ReverseBody struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
	Reason string `json:"reason"`
}

// VoidBody is the body of a payment.void record.
type VoidBody struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
	Day    string `json:"day"`
}

func (s *Service) refundRecord(p *Payment, n string, amount int64, reason string) *outbox.Record {
	b, _ := json.Marshal(RefundBody{ID: p.ID, N: n, Amount: amount, Paid: p.Amount, Before: p.Refunded - amount,
		Currency: p.Currency, Reason: reason})
	return &outbox.Record{Key: p.ID + ":refund:" + n, Type: RecordPaymentRefund, Schema: 1, Body: b}
}

// refundAnswered applies the platform's answer to refund n of p.
func refundAnswered(p *Payment, n string, r envelope.Result) bool {
	for i := range p.Refunds {
		f := &p.Refunds[i]
		if f.N != n || f.Status != "pending" {
			continue
		}
		switch r.Status {
		case ResultRefunded, "duplicate":
			f.Status = ResultRefunded
		default:
			f.Status, f.Reason = StatusDeclined, r.Reason
			p.Refunded -= f.Amount
		}
		return true
	}
	return false
}

// Refund gives back amount (minor units) of an approved payment; several
// partial refunds may follow each other, never more than was paid in all.
// The refund is stored and sent as its own record; its status is pending
// until the platform answers.
func (s *Service) Refund(ctx context.Context, id string, amount int64) (*Payment, error) {
	if amount <= 0 || amount > MaxAmount {
		return nil, fmt.Errorf("%w: refund amount must be more than zero", ErrInput)
	}
	if err := s.locked(); err != nil {
		return nil, err
	}
	p, err := s.update(ctx, id, func(p *Payment) (*outbox.Record, bool, error) {
		if p.Status != StatusApproved {
			return nil, false, fmt.Errorf("checkout: refund of a payment %s: %w", p.Status, ErrState)
		}
		if left := p.Amount - p.Refunded; amount > left {
			return nil, false, fmt.Errorf("%w: refund of %s is more than the %s left to refund", ErrInput, FormatMinor(amount, p.Currency), FormatMinor(left, p.Currency))
		}
		n := strconv.Itoa(len(p.Refunds) + 1)
		var by *Operator
		if op := OperatorOf(ctx); op != (Operator{}) {
			by = &op
		}
		if p.Scheme == SchemeCash {
			rec := s.cashRefund(p, n, amount)
			p.Refunds[len(p.Refunds)-1].By = by
			return rec, true, nil
		}
		p.Refunds = append(p.Refunds, Refund{N: n, Amount: amount, Status: "pending", At: s.now(), By: by})
		p.Refunded += amount
		return s.refundRecord(p, n, amount, "cashier"), true, nil
	})
	if err != nil || p.Scheme != SchemeCash {
		return p, err
	}
	return p, s.openDrawer(ctx, p.ID, "refund")
}

// Void cancels a payment the same business day, before the day is closed
// (settlement), when nothing of it was refunded. A cash payment's void is
// paid back from the drawer, which opens once the void is stored.
func (s *Service) Void(ctx context.Context, id string) (*Payment, error) {
	if err := s.locked(); err != nil {
		return nil, err
	}
	p, err := s.update(ctx, id, func(p *Payment) (*outbox.Record, bool, error) {
		// Under ledgerMu, which CloseDay holds too: no void slips past a
		// close. The business day is never a closed one.
		day, err := s.BusinessDay(ctx)
		if err != nil {
			return nil, false, err
		}
		switch {
		case p.Status != StatusApproved && p.Status != StatusApprovedOffline:
			return nil, false, fmt.Errorf("checkout: void of a payment %s: %w", p.Status, ErrState)
		case p.Day != day:
			return nil, false, fmt.Errorf("checkout: void after the day of the payment was closed, refund instead: %w", ErrState)
		case p.Refunded > 0:
			return nil, false, fmt.Errorf("checkout: void of a payment partly refunded: %w", ErrState)
		}
		p.VoidedFrom, p.Status = p.Status, StatusVoided
		if op := OperatorOf(ctx); op != (Operator{}) {
			p.VoidedBy = &op
		}
		b, _ := json.Marshal(VoidBody{ID: p.ID, Amount: p.Amount, Day: p.Day})
		typ := RecordPaymentVoid
		if p.Scheme == SchemeCash {
			typ = RecordPaymentCashVoid
		}
		return &outbox.Record{Key: p.ID + ":void", Type: typ, Schema: 1, Body: b}, true, nil
	})
	if err != nil || p.Scheme != SchemeCash {
		return p, err
	}
	return p, s.openDrawer(ctx, p.ID, "void")
}

// locked returns the error of the Lock, if any, naming the checkout.
func (s *Service) locked() error {
	if s.Lock == nil {
		return nil
	}
	if err := s.Lock(); err != nil {
		return fmt.Errorf("checkout: %w", err)
	}
	return nil
}
