// Package checkout is the cashier's flow: take an amount and a customer's
// payment code, commit the payment to the durable outbox, and give the
// cashier a decision: the platform's answer when it comes within
// WaitOnline, else the device's own, offline: approved within the offline
// limits, or declined "offline, over the limit". "queued" is a sync state
// of the payment, never the cashier's answer.
//
// Beyond the first answer it drives each order to an end: it polls the
// platform while the customer confirms on the phone ("user_paying"),
// reverses when no final answer comes, refunds a success that arrives too
// late, approves small payments offline within limits the platform sets,
// and keeps refunds, voids, split bills, promotions, receipts and the
// end-of-day report. Every message to the platform is its own outbox
// record with an idempotency key derived from the payment id, so a retry
// never acts twice.
//
// The flow knows the outbox and the link only through small interfaces; it
// never knows which broker or which scanner is behind them.
package checkout

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/guichet/guichet/checkout/paycode"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

// Store is what the flow needs of the durable store (*outbox.Store): it
// writes its rows in the transaction of an outbox record or of an Update,
// and reads them on the read pool.
type Store interface {
	Append(ctx context.Context, r outbox.Record) (outbox.Entry, error)
	Update(ctx context.Context, fn func(tx *sql.Tx) error) error
	Reader() *sql.DB
}

// LinkState tells the flow whether the platform can be reached now. The
// daemon adapts the link's status to it.
type LinkState interface {
	Online() bool
}

// Status of a payment.
const (
	StatusQueued   = "queued"   // stored, waiting for the platform
	StatusApproved = "approved" // paid
	StatusDeclined = "declined" // refused by the platform: the order is closed
	// StatusUserPaying says the wallet waits for the customer to confirm
	// on the phone (WeChat Pay's USERPAYING); the device polls.
	StatusUserPaying = "user_paying"
	// StatusReversed says the device gave up waiting and reversed the
	// payment: the customer is not charged.
	StatusReversed = "reversed"
	// StatusApprovedOffline says the device approved the payment within
	// its offline limits; the platform decides it when the link is back.
	StatusApprovedOffline = "approved_offline"
	// StatusVoided says the cashier cancelled the payment the same day,
	// before settlement.
	StatusVoided = "voided"
)

// Record types the flow sends, and the statuses the platform answers
// them with besides approved and declined.
const (
	RecordPaymentAuth    = "payment.auth"
	RecordPaymentQuery   = "payment.query"
	RecordPaymentReverse = "payment.reverse"
	RecordPaymentRefund  = "payment.refund"
	RecordPaymentVoid    = "payment.void"
	RecordDayClose       = "day.close"

	ResultRefunded = "refunded"
	ResultVoided   = "voided"
	ResultReversed = "reversed"
)

// Payment is one payment, as the payments table keeps it.
type Payment struct {
	ID       string    `json:"id"`
	Amount   int64     `json:"amount"` // minor units, charged (after any promotion)
	Currency string    `json:"currency"`
	Scheme   string    `json:"scheme"`
	CodeTail string    `json:"code_tail"` // last 4 characters: the code is a bearer token
	Status   string    `json:"status"`
	Reason   string    `json:"reason,omitempty"`
	Seq      uint64    `json:"seq"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`

	// CodeLen is the length of the code, to print it masked.
	CodeLen int `json:"code_len,omitempty"`
	// Day is the business day (local date, 2006-01-02) the payment belongs to.
	Day string `json:"day,omitempty"`
	// Original is the amount before a promotion, Discount what it took off.
	Original int64  `json:"original,omitempty"`
	Discount int64  `json:"discount,omitempty"`
	Promo    string `json:"promo,omitempty"`
	// Order is the split bill this payment is a part of.
	Order string `json:"order,omitempty"`
	// Offline is set when the device approved the payment without the
	// platform; Loss when the platform then declined or it was reversed.
	Offline bool `json:"offline,omitempty"`
	Loss    bool `json:"loss,omitempty"`
	// Queries counts payment.query records sent, Answered those answered.
	Queries   int       `json:"queries,omitempty"`
	Answered  int       `json:"answered,omitempty"`
	LastQuery time.Time `json:"last_query,omitempty"`
	// Refunds are the refunds asked for, in order; Refunded sums those not
	// declined, so it never exceeds Amount.
	Refunds  []Refund `json:"refunds,omitempty"`
	Refunded int64    `json:"refunded,omitempty"`
	// LateRefund is set when a success arrived after the reverse and was
	// refunded in full.
	LateRefund bool `json:"late_refund,omitempty"`
	// VoidedFrom is the status before a void, restored if it is refused.
	VoidedFrom string `json:"voided_from,omitempty"`
	// Operator is the cashier who took the payment; VoidedBy who voided
	// it, with the supervisor who authorised the void.
	Operator string    `json:"operator,omitempty"`
	VoidedBy *Operator `json:"voided_by,omitempty"`
}

// AuthBody is the body of a payment.auth record, as the platform reads it.
type AuthBody struct {
	ID       string `json:"id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Scheme   string `json:"scheme"`
	Code     string `json:"code"`
	// Original and Promo are set when a promotion lowered the amount.
	Original int64  `json:"original,omitempty"`
	Promo    string `json:"promo,omitempty"`
	// Offline is set when the device already approved the payment.
	Offline bool   `json:"offline,omitempty"`
	Order   string `json:"order,omitempty"`
	// At is when the code was scanned (Unix milliseconds): a wallet
	// declines a code that reaches it too long after.
	At int64 `json:"at,omitempty"`
}

// Service runs the flow.
type Service struct {
	Store    Store
	Currency string
	// WaitOnline is how long Pay waits for the platform's answer.
	WaitOnline time.Duration
	// OnChange is told of every payment whose status changed (display, LEDs).
	OnChange func(Payment)
	// OnQRChange is told of every QR order whose status changed.
	OnQRChange func(QROrder)
	// QRTTL is how long a QR order can be paid (default DefaultQRTTL);
	// QRMerchant is the shop as its QR codes describe it.
	QRTTL      time.Duration
	QRMerchant Merchant
	Log        *slog.Logger

	// Link says whether the platform is reachable; nil means always.
	Link LinkState
	// Site names the shop, matched against a promotion's site.
	Site string
	// Merchant heads the receipt.
	Merchant string
	// Drawer opens the cash drawer on a cash sale, refund or void once it
	// is stored (cash.go); nil when the till has none.
	Drawer Drawer
	// Lock, if set, refuses refunds and voids while it returns an error:
	// the tamper switch's lock (package tamper), until a technician
	// clears it.
	Lock func() error
	// PollEvery is how often a payment waiting for the customer is
	// queried (default 5 s); ConfirmTimeout how long after it was taken
	// it is reversed without a final answer (default 45 s, as the wallets
	// advise).
	PollEvery      time.Duration
	ConfirmTimeout time.Duration
	// OfflinePerTransaction and OfflineTotal are the offline limits (minor
	// units) until the platform sets others with an offline_limits command.
	OfflinePerTransaction int64
	OfflineTotal          int64
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
	// Retention is how long settled payments are kept (default
	// DefaultRetention); Run prunes older ones at start and once a day.
	Retention time.Duration

	mu      sync.Mutex
	waiters map[string]chan envelope.Result

	// ledgerMu serialises read-modify-write of payments between the
	// link's results, the driver and the cashier.
	ledgerMu sync.Mutex
	// closeMu is held for reading while a new payment is committed and
	// for writing while the day closes, so that each new payment is either
	// in the closed day's stored report or on the next business day.
	closeMu sync.RWMutex
	// offlineMu makes the offline limit check and the append one step.
	offlineMu sync.Mutex
	// orderMu makes a split part's remaining-amount check and its append one step.
	orderMu sync.Mutex

	settingsMu sync.Mutex
	settings   *settings
}

// ErrInput is wrapped by errors caused by what the cashier entered.
var ErrInput = errors.New("bad input")

// ErrNeedsNetwork is wrapped by the reason a payment is above the offline
// limits. Pay no longer returns it: it declines the payment with
// ReasonOverLimit instead; it stays for callers that test for it.
var ErrNeedsNetwork = errors.New("checkout: this payment needs the network: above the offline limits")

// ReasonOverLimit is the reason of a payment the device declined because
// the platform did not answer in time and the payment is above the
// offline limits.
const ReasonOverLimit = "offline, over the limit"

// ErrState is wrapped when an operation does not fit the payment's state
// (refund of a declined payment, void of yesterday's payment...).
var ErrState = errors.New("not possible now")

// MaxAmount is the largest amount in minor units the flow accepts
// (999 999 999.99), so sums over a day cannot overflow.
const MaxAmount = 99999999999

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// newID returns a time-ordered unique payment id, also its idempotency key.
func newID(now time.Time) string {
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("pay-%013x-%s", now.UnixMilli(), hex.EncodeToString(b[:]))
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func dayOf(t time.Time) string { return t.Local().Format(time.DateOnly) }

// Pay takes a payment of amount (minor units) with the customer's code. It
// returns once the payment is durably stored, with a decision: the
// platform's answer if it came within WaitOnline; else, whatever kept the
// platform silent (link down, platform down or slow, half-open link), the
// device's own: approved offline within the offline limits, or declined
// with ReasonOverLimit. While the link is known to be down it decides at
// once, and a payment over the limits is stored declined and never sent;
// when the link is up but the platform silent, the payment was already
// sent, so a decline sends a payment.reverse after it, and a success that
// still comes is refunded (see answer).
func (s *Service) Pay(ctx context.Context, amount int64, code string) (*Payment, error) {
	p, body, err := s.prepare(amount, code, "", true)
	if err != nil {
		return nil, err
	}
	p.Operator = OperatorOf(ctx).Cashier
	return s.take(ctx, p, body, nil, nil)
}

// prepare checks the input and builds the payment and its auth body.
func (s *Service) prepare(amount int64, code, order string, promo bool) (*Payment, AuthBody, error) {
	if amount <= 0 || amount > MaxAmount {
		return nil, AuthBody{}, fmt.Errorf("%w: amount must be more than zero and at most %s", ErrInput, FormatMinor(MaxAmount, s.Currency))
	}
	pc, err := paycode.Classify(code)
	if err != nil {
		return nil, AuthBody{}, fmt.Errorf("%w: %v", ErrInput, err)
	}
	now := s.now()
	p := &Payment{ID: newID(now), Amount: amount, Currency: s.Currency, Scheme: string(pc.Scheme),
		CodeTail: tail(pc.Text), CodeLen: len(pc.Text), Status: StatusQueued, Created: now, Updated: now,
		Day: dayOf(now), Order: order}
	if promo {
		if pr, off := s.bestPromotion(p.Scheme, amount, now); off > 0 {
			p.Original, p.Discount, p.Promo, p.Amount = amount, off, pr.ID, amount-off
		}
	}
	body := AuthBody{ID: p.ID, Amount: p.Amount, Currency: s.Currency, Scheme: p.Scheme, Code: pc.Text,
		Original: p.Original, Promo: p.Promo, Order: order, At: now.UnixMilli()}
	return p, body, nil
}

// take commits the payment (with extra writes, if not nil), calls
// committed (if not nil) once the commit is done or failed, and waits for
// the platform's answer when online.
func (s *Service) take(ctx context.Context, p *Payment, body AuthBody, extra func(*sql.Tx) error, committed func()) (*Payment, error) {
	wait := s.wait(p.ID)
	defer s.unwait(p.ID)
	offline := s.Link != nil && !s.Link.Online()
	if offline {
		s.offlineMu.Lock()
		err := s.offlineAllowed(context.WithoutCancel(ctx), p.Amount)
		if errors.Is(err, ErrNeedsNetwork) {
			// Stored declined, for the day's list and report; nothing
			// is sent: the platform never sees this code.
			s.offlineMu.Unlock()
			s.log().Info("declined offline", "payment", p.ID, "why", err)
			p.Status, p.Reason = StatusDeclined, ReasonOverLimit
			saved := *p
			err := s.Store.Update(ctx, func(tx *sql.Tx) error {
				if err := savePayment(tx, &saved); err != nil {
					return err
				}
				if extra != nil {
					return extra(tx)
				}
				return nil
			})
			if committed != nil {
				committed()
			}
			if err != nil {
				return nil, fmt.Errorf("checkout: store payment: %w", err)
			}
			s.changed(*p)
			return p, nil
		}
		if err != nil {
			s.offlineMu.Unlock()
			if committed != nil {
				committed()
			}
			return nil, err
		}
		p.Status, p.Offline, body.Offline = StatusApprovedOffline, true, true
	}
	b, _ := json.Marshal(body)
	saved := *p
	s.closeMu.RLock()
	e, err := s.Store.Append(ctx, outbox.Record{Key: p.ID, Type: RecordPaymentAuth, Schema: 1, Body: b,
		Write: func(tx *sql.Tx) error {
			// The day is read in the transaction: a close committed just
			// before moves the payment to the next day (businessday.go).
			day, err := businessDay(context.WithoutCancel(ctx), tx, saved.Created)
			if err != nil {
				return err
			}
			saved.Day = day
			if err := savePayment(tx, &saved); err != nil {
				return err
			}
			if extra != nil {
				return extra(tx)
			}
			return nil
		}})
	s.closeMu.RUnlock()
	if offline {
		s.offlineMu.Unlock()
	}
	if committed != nil {
		committed()
	}
	if err != nil {
		return nil, fmt.Errorf("checkout: store payment: %w", err)
	}
	p.Seq, p.Day = e.Seq, saved.Day
	s.changed(*p)
	if offline {
		return p, nil
	}
	t := time.NewTimer(s.WaitOnline)
	defer t.Stop()
	select {
	case r := <-wait:
		// Read back: the result was written by OnResult.
		if got, err := s.Get(ctx, p.ID); err == nil {
			return got, nil
		}
		p.Status, p.Reason = r.Status, r.Reason
		return p, nil
	case <-t.C:
	case <-ctx.Done():
		// The payment is stored and will be sent: decide it now rather
		// than leave it undecided.
	}
	return s.decideOffline(context.WithoutCancel(ctx), p)
}

// decideOffline gives the cashier the device's decision on payment p,
// sent to a platform that did not answer within WaitOnline: approved
// offline within the limits, else declined with ReasonOverLimit and a
// payment.reverse sent after the auth, so that the platform cancels what
// it may still apply. An answer that came meanwhile wins.
func (s *Service) decideOffline(ctx context.Context, p *Payment) (*Payment, error) {
	s.offlineMu.Lock()
	defer s.offlineMu.Unlock()
	got, err := s.update(ctx, p.ID, func(q *Payment) (*outbox.Record, bool, error) {
		if q.Status != StatusQueued {
			return nil, false, nil
		}
		if q.Seq == 0 {
			// The row was written before its record's seq was known.
			q.Seq = p.Seq
		}
		err := s.offlineAllowed(ctx, q.Amount)
		switch {
		case err == nil:
			q.Status, q.Offline, q.Reason = StatusApprovedOffline, true, ""
			return nil, true, nil
		case errors.Is(err, ErrNeedsNetwork):
			s.log().Info("declined offline", "payment", q.ID, "why", err)
			q.Status, q.Reason = StatusDeclined, ReasonOverLimit
			b, _ := json.Marshal(ReverseBody{ID: q.ID, Amount: q.Amount, Reason: "timeout"})
			return &outbox.Record{Key: q.ID + ":reverse", Type: RecordPaymentReverse, Schema: 1, Body: b}, true, nil
		}
		return nil, false, err
	})
	if err != nil {
		// The payment is stored and sent; its answer will show in the list.
		s.log().Error("offline decision", "payment", p.ID, "err", err)
		return p, nil
	}
	return got, nil
}

func tail(s string) string {
	if len(s) <= 4 {
		return s
	}
	return s[len(s)-4:]
}

func (s *Service) wait(id string) chan envelope.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiters == nil {
		s.waiters = map[string]chan envelope.Result{}
	}
	ch := make(chan envelope.Result, 1)
	s.waiters[id] = ch
	return ch
}

func (s *Service) unwait(id string) {
	s.mu.Lock()
	delete(s.waiters, id)
	s.mu.Unlock()
}

func (s *Service) wake(r envelope.Result) {
	s.mu.Lock()
	ch := s.waiters[r.Key]
	s.mu.Unlock()
	if ch != nil {
		select {
		case ch <- r:
		default:
		}
	}
}

// commit writes rows with write, in the transaction of rec when there is a
// record to send, else in an Update of its own.
func (s *Service) commit(ctx context.Context, rec *outbox.Record, write func(tx *sql.Tx) error) error {
	if rec == nil {
		return s.Store.Update(ctx, write)
	}
	rec.Write = write
	_, err := s.Store.Append(ctx, *rec)
	return err
}

// update reads payment id, lets fn change it, and commits the change with
// the record fn returns (if any) in one transaction. fn returns false to
// change nothing.
func (s *Service) update(ctx context.Context, id string, fn func(p *Payment) (*outbox.Record, bool, error)) (*Payment, error) {
	s.ledgerMu.Lock()
	p, err := s.Get(ctx, id)
	if err != nil {
		s.ledgerMu.Unlock()
		return nil, err
	}
	before := p.Status
	rec, ok, err := fn(p)
	if err != nil || !ok {
		s.ledgerMu.Unlock()
		return p, err
	}
	p.Updated = s.now()
	saved := *p
	err = s.commit(ctx, rec, func(tx *sql.Tx) error { return savePayment(tx, &saved) })
	s.ledgerMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("checkout: update of %s: %w", id, err)
	}
	if p.Status != before {
		s.changed(*p)
	}
	return p, nil
}

// OnResult records the platform's answer to a payment record. The link's
// router calls it for every result to a record of ResultTypes, including
// answers repeated after a lost ack.
func (s *Service) OnResult(r envelope.Result) {
	id, op, _ := strings.Cut(r.Key, ":")
	ctx := context.Background()
	var err error
	switch {
	case op == "":
		_, err = s.update(ctx, id, func(p *Payment) (*outbox.Record, bool, error) {
			if r.Seq != 0 {
				// The row was written in the same commit that gave
				// the record its seq, before the seq was known.
				p.Seq = r.Seq
			}
			return s.answer(p, r, "auth")
		})
	case strings.HasPrefix(op, "query:"):
		n, _ := strconv.Atoi(strings.TrimPrefix(op, "query:"))
		_, err = s.update(ctx, id, func(p *Payment) (*outbox.Record, bool, error) {
			if n > p.Answered {
				p.Answered = n
			}
			rec, _, err := s.answer(p, r, "query")
			return rec, true, err
		})
	case op == "reverse":
		_, err = s.update(ctx, id, func(p *Payment) (*outbox.Record, bool, error) {
			if r.Status == ResultReversed || r.Status == "duplicate" {
				return nil, false, nil
			}
			// The wallet refused the reverse, as it does for a paid
			// order: the customer may have paid, so refund it, once.
			s.log().Warn("reverse refused: refunding", "payment", id, "status", r.Status)
			return s.answer(p, envelope.Result{Key: r.Key, Status: StatusApproved}, "reverse")
		})
	case strings.HasPrefix(op, "refund:"):
		_, err = s.update(ctx, id, func(p *Payment) (*outbox.Record, bool, error) {
			return nil, refundAnswered(p, strings.TrimPrefix(op, "refund:"), r), nil
		})
	case op == "void":
		_, err = s.update(ctx, id, func(p *Payment) (*outbox.Record, bool, error) {
			if p.Status != StatusVoided || r.Status == ResultVoided || r.Status == "duplicate" {
				return nil, false, nil
			}
			p.Status, p.Reason = p.VoidedFrom, "void refused: "+r.Reason
			return nil, true, nil
		})
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			s.log().Warn("result for unknown payment", "seq", r.Seq)
		} else {
			s.log().Error("result", "err", err, "seq", r.Seq)
		}
	}
	s.wake(r)
}

// answer applies an auth or query result to p.
func (s *Service) answer(p *Payment, r envelope.Result, what string) (*outbox.Record, bool, error) {
	undecided := p.Status == StatusQueued || p.Status == StatusUserPaying || p.Status == StatusApprovedOffline
	switch r.Status {
	case StatusApproved:
		if undecided {
			p.Status, p.Reason = StatusApproved, ""
			return nil, true, nil
		}
		if (p.Status == StatusReversed || p.Status == StatusDeclined && p.Reason == ReasonOverLimit) && !p.LateRefund {
			// The customer paid after we gave up: give the money back.
			p.LateRefund = true
			p.Refunds = append(p.Refunds, Refund{N: "late", Amount: p.Amount, Status: "pending", At: s.now()})
			p.Refunded = p.Amount
			if p.Offline {
				p.Loss = false
			}
			rec := s.refundRecord(p, "late", p.Amount, "paid after the reverse")
			return rec, true, nil
		}
	case StatusDeclined:
		if undecided {
			p.Status, p.Reason = StatusDeclined, r.Reason
			p.Loss = p.Offline
			return nil, true, nil
		}
	case StatusUserPaying:
		if p.Status == StatusQueued || p.Status == StatusApprovedOffline {
			p.Status, p.Reason = StatusUserPaying, r.Reason
			p.LastQuery = s.now()
			return nil, true, nil
		}
	case "duplicate", "applied":
		// The key was applied before (an offline payment forwarded twice):
		// its own result comes or came with the first.
	default:
		if what == "auth" && undecided {
			p.Status, p.Reason = StatusDeclined, "platform answered "+clip(r.Status)
			p.Loss = p.Offline
			return nil, true, nil
		}
	}
	return nil, false, nil
}

func (s *Service) changed(p Payment) {
	s.log().Info("payment", "id", p.ID, "status", p.Status, "scheme", p.Scheme, "amount", p.Amount)
	if s.OnChange != nil {
		s.OnChange(p)
	}
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

// ErrNotFound is returned for an unknown payment id.
var ErrNotFound = errors.New("checkout: no such payment")

// Get returns a payment.
func (s *Service) Get(ctx context.Context, id string) (*Payment, error) {
	var p Payment
	ok, err := queryDoc(ctx, s.Store.Reader(), &p, `SELECT doc FROM payments WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("checkout: payment %s: %w", id, err)
	}
	if !ok {
		return nil, ErrNotFound
	}
	return &p, nil
}

// Recent returns the last n payments, newest first.
func (s *Service) Recent(ctx context.Context, n int) ([]Payment, error) {
	ps, err := queryPayments(ctx, s.Store.Reader(), `SELECT doc FROM payments ORDER BY created DESC, id DESC LIMIT ?`, n)
	if err != nil {
		return nil, fmt.Errorf("checkout: recent payments: %w", err)
	}
	if ps == nil {
		ps = []Payment{}
	}
	return ps, nil
}
