package checkout

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// MaxParts bounds the payments of one split bill.
const MaxParts = 50

// Order is a bill paid by several codes (a split bill).
type Order struct {
	ID       string    `json:"id"`
	Total    int64     `json:"total"`
	Currency string    `json:"currency"`
	Parts    []string  `json:"parts"` // payment ids, in the order taken
	Created  time.Time `json:"created"`
	Day      string    `json:"day"`
}

// OrderView is an order with the state of its parts.
type OrderView struct {
	Order
	Payments []Payment `json:"payments"`
	// Paid sums approved parts (online or offline); Pending parts still
	// waiting for an answer; Remaining is what is left to take.
	Paid      int64  `json:"paid"`
	Pending   int64  `json:"pending"`
	Remaining int64  `json:"remaining"`
	Status    string `json:"status"` // "open" or "paid"
}

// Order statuses.
const (
	OrderOpen = "open"
	OrderPaid = "paid"
)

// NewOrder opens a split bill of total (minor units).
func (s *Service) NewOrder(ctx context.Context, total int64) (*Order, error) {
	if total <= 0 || total > MaxAmount {
		return nil, fmt.Errorf("%w: order total must be more than zero and at most %s", ErrInput, FormatMinor(MaxAmount, s.Currency))
	}
	now := s.now()
	day, err := s.BusinessDay(ctx)
	if err != nil {
		return nil, err
	}
	o := &Order{ID: "ord-" + strings.TrimPrefix(newID(now), "pay-"), Total: total, Currency: s.Currency, Parts: []string{}, Created: now, Day: day}
	if err := s.Store.Update(ctx, func(tx *sql.Tx) error { return saveOrder(tx, o) }); err != nil {
		return nil, fmt.Errorf("checkout: store order: %w", err)
	}
	return o, nil
}

func (s *Service) getOrder(ctx context.Context, id string) (*Order, error) {
	var o Order
	ok, err := queryDoc(ctx, s.Store.Reader(), &o, `SELECT doc FROM orders WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("checkout: order %s: %w", id, err)
	}
	if !ok {
		return nil, fmt.Errorf("checkout: no such order: %w", ErrNotFound)
	}
	return &o, nil
}

// GetOrder returns an order with its parts and what is left to pay.
func (s *Service) GetOrder(ctx context.Context, id string) (*OrderView, error) {
	o, err := s.getOrder(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &OrderView{Order: *o, Payments: []Payment{}}
	for _, pid := range o.Parts {
		p, err := s.Get(ctx, pid)
		if err != nil {
			return nil, err
		}
		v.Payments = append(v.Payments, *p)
		switch p.Status {
		case StatusApproved, StatusApprovedOffline:
			v.Paid += p.Amount
		case StatusQueued, StatusUserPaying:
			v.Pending += p.Amount
		}
	}
	v.Remaining = o.Total - v.Paid - v.Pending
	v.Status = OrderOpen
	if v.Paid >= o.Total {
		v.Status = OrderPaid
	}
	return v, nil
}

// PayPart pays amount of order id with a customer's code. A part may not
// take more than what is left once approved and pending parts are
// counted; a declined or reversed part frees its amount, so it can be
// taken again with another code. Promotions do not apply to parts.
func (s *Service) PayPart(ctx context.Context, id string, amount int64, code string) (*Payment, error) {
	p, body, err := s.prepare(amount, code, id, false)
	if err != nil {
		return nil, err
	}
	p.Operator = OperatorOf(ctx).Cashier
	s.orderMu.Lock()
	v, err := s.GetOrder(ctx, id)
	if err != nil {
		s.orderMu.Unlock()
		return nil, err
	}
	switch {
	case v.Remaining <= 0:
		s.orderMu.Unlock()
		return nil, fmt.Errorf("checkout: order %s has nothing left to pay: %w", id, ErrState)
	case amount > v.Remaining:
		s.orderMu.Unlock()
		return nil, fmt.Errorf("%w: %s is more than the %s left to pay", ErrInput, FormatMinor(amount, s.Currency), FormatMinor(v.Remaining, s.Currency))
	case len(v.Parts) >= MaxParts:
		s.orderMu.Unlock()
		return nil, fmt.Errorf("checkout: order %s has %d parts already: %w", id, MaxParts, ErrState)
	}
	o := v.Order
	o.Parts = append(o.Parts, p.ID)
	// The part is stored before take waits for the answer; the lock only
	// covers the check and the commit.
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			s.orderMu.Unlock()
		}
	}
	defer unlock()
	return s.take(ctx, p, body, func(tx *sql.Tx) error { return saveOrder(tx, &o) }, unlock)
}
