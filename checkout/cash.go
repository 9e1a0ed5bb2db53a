package checkout

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/guichet/guichet/sync/outbox"
)

// Cash. A cash sale is decided at the till: the cashier has the notes in
// hand, so the payment is approved as soon as it is stored, whatever the
// link, and no offline limit applies. It is still a record in the
// outbox, so that the platform and the day's report know of it; its
// refunds and voids are paid back from the drawer at once, and are
// records too. The platform applies these records without a wallet: the
// flow takes no result for them (they are not in ResultTypes).
//
// The drawer opens only once the sale, refund or void is committed: a
// drawer opened for a sale the store then lost would leave the cash
// uncounted, while a sale stored and a drawer that did not open costs
// the cashier a key.

// SchemeCash is the scheme of a payment in cash.
const SchemeCash = "cash"

// Record types of cash. Their keys are derived from the payment id as
// the wallet's are: the id, "id:refund:N", "id:void".
const (
	RecordPaymentCash       = "payment.cash"
	RecordPaymentCashRefund = "payment.cash_refund"
	RecordPaymentCashVoid   = "payment.cash_void"
)

// Drawer opens the cash drawer: through the receipt printer's drawer
// kick or a GPIO line (device/printer). The daemon chooses which.
type Drawer interface {
	OpenDrawer(ctx context.Context) error
}

// ErrDrawer is wrapped by the error of a cash sale, refund or void that
// was stored, and whose drawer did not open. The payment is returned
// with it: the sale stands, the cashier opens the drawer by its key.
var ErrDrawer = errors.New("checkout: the cash drawer did not open")

// CashBody is the body of a payment.cash record.
type CashBody struct {
	ID       string `json:"id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// Original and Promo are set when a promotion lowered the amount.
	Original int64  `json:"original,omitempty"`
	Promo    string `json:"promo,omitempty"`
	// At is when the sale was taken (Unix milliseconds).
	At int64 `json:"at"`
}

// PayCash takes a payment of amount (minor units) in cash: it is stored
// approved with its payment.cash record, then the drawer opens. The
// error wraps ErrDrawer, with the payment, when only the drawer failed.
func (s *Service) PayCash(ctx context.Context, amount int64) (*Payment, error) {
	if amount <= 0 || amount > MaxAmount {
		return nil, fmt.Errorf("%w: amount must be more than zero and at most %s", ErrInput, FormatMinor(MaxAmount, s.Currency))
	}
	now := s.now()
	p := &Payment{ID: newID(now), Amount: amount, Currency: s.Currency, Scheme: SchemeCash, Status: StatusApproved,
		Created: now, Updated: now, Day: dayOf(now)}
	if pr, off := s.bestPromotion(p.Scheme, amount, now); off > 0 {
		p.Original, p.Discount, p.Promo, p.Amount = amount, off, pr.ID, amount-off
	}
	b, _ := json.Marshal(CashBody{ID: p.ID, Amount: p.Amount, Currency: p.Currency, Original: p.Original, Promo: p.Promo, At: now.UnixMilli()})
	saved := *p
	s.closeMu.RLock()
	e, err := s.Store.Append(ctx, outbox.Record{Key: p.ID, Type: RecordPaymentCash, Schema: 1, Body: b,
		Write: func(tx *sql.Tx) error {
			day, err := businessDay(context.WithoutCancel(ctx), tx, saved.Created)
			if err != nil {
				return err
			}
			saved.Day = day
			return savePayment(tx, &saved)
		}})
	s.closeMu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("checkout: store cash sale: %w", err)
	}
	p.Seq, p.Day = e.Seq, saved.Day
	s.changed(*p)
	return p, s.openDrawer(ctx, p.ID, "sale")
}

// openDrawer opens the drawer for payment id's cash, which is committed.
// The drawer is opened even when the cashier's request was cancelled
// meanwhile: the cash is due.
func (s *Service) openDrawer(ctx context.Context, id, why string) error {
	if s.Drawer == nil {
		return nil
	}
	if err := s.Drawer.OpenDrawer(context.WithoutCancel(ctx)); err != nil {
		s.log().Warn("cash drawer did not open", "payment", id, "for", why, "err", err)
		return fmt.Errorf("%w: %s of %s is stored: %v", ErrDrawer, why, id, err)
	}
	return nil
}

// cashRefund records refund n of amount of cash payment p, paid back
// from the drawer at once.
func (s *Service) cashRefund(p *Payment, n string, amount int64) *outbox.Record {
	p.Refunds = append(p.Refunds, Refund{N: n, Amount: amount, Status: ResultRefunded, Reason: "cash", At: s.now()})
	p.Refunded += amount
	b, _ := json.Marshal(RefundBody{ID: p.ID, N: n, Amount: amount, Paid: p.Amount, Before: p.Refunded - amount,
		Currency: p.Currency, Reason: "cashier"})
	return &outbox.Record{Key: p.ID + ":refund:" + n, Type: RecordPaymentCashRefund, Schema: 1, Body: b}
}
