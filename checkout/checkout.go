// Package checkout is the cashier's flow: take an amount and a customer's
// payment code, commit the payment to the durable outbox, and report the
// platform's answer, or "queued" when the platform does not answer in time.
//
// The flow knows the outbox and the link only through small interfaces; it
// never knows which broker or which scanner is behind them.
package checkout

import (
	"context"
	"crypto/rand"
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

// Store is what the flow needs of the durable store.
type Store interface {
	Append(ctx context.Context, r outbox.Record) (outbox.Entry, error)
	Put(ctx context.Context, puts ...outbox.Put) error
	Get(ctx context.Context, bucket, key string) ([]byte, bool, error)
	Scan(ctx context.Context, bucket, prefix string, fn func(key string, value []byte) bool) error
}

// Status of a payment.
const (
	StatusQueued   = "queued"   // stored, waiting for the platform
	StatusApproved = "approved" // paid
	StatusDeclined = "declined" // refused by the platform
)

// RecordPaymentAuth is the record type of a payment authorisation.
const RecordPaymentAuth = "payment.auth"

// bucket is the ledger bucket of payments.
const bucket = "payments"

// Payment is one payment in the ledger.
type Payment struct {
	ID       string    `json:"id"`
	Amount   int64     `json:"amount"` // minor units
	Currency string    `json:"currency"`
	Scheme   string    `json:"scheme"`
	CodeTail string    `json:"code_tail"` // last 4 characters: the code is a bearer token
	Status   string    `json:"status"`
	Reason   string    `json:"reason,omitempty"`
	Seq      uint64    `json:"seq"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// AuthBody is the body of a payment.auth record, as the platform reads it.
type AuthBody struct {
	ID       string `json:"id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Scheme   string `json:"scheme"`
	Code     string `json:"code"`
}

// Service runs the flow.
type Service struct {
	Store    Store
	Currency string
	// WaitOnline is how long Pay waits for the platform's answer.
	WaitOnline time.Duration
	// OnChange is told of every payment whose status changed (display, LEDs).
	OnChange func(Payment)
	Log      *slog.Logger

	mu      sync.Mutex
	waiters map[string]chan envelope.Result
}

// ErrInput is wrapped by errors caused by what the cashier entered.
var ErrInput = errors.New("bad input")

// ParseAmount reads a decimal amount such as "12.34" in minor units.
func ParseAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || len(whole) > 9 {
		return 0, fmt.Errorf("%w: amount %q: want a number such as 12.34", ErrInput, s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err1 := strconv.ParseUint(whole, 10, 40)
	f, err2 := strconv.ParseUint(frac, 10, 8)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%w: amount %q: want a number such as 12.34", ErrInput, s)
	}
	v := int64(w)*100 + int64(f)
	if v <= 0 {
		return 0, fmt.Errorf("%w: amount must be more than zero", ErrInput)
	}
	return v, nil
}

// FormatAmount writes minor units as "12.34".
func FormatAmount(v int64) string { return fmt.Sprintf("%d.%02d", v/100, v%100) }

// newID returns a time-ordered unique payment id, also its idempotency key.
func newID(now time.Time) string {
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("pay-%013x-%s", now.UnixMilli(), hex.EncodeToString(b[:]))
}

// Pay takes a payment of amount (minor units) with the customer's code. It
// returns once the payment is durably stored, with the platform's answer if
// it came within WaitOnline, else with status queued.
func (s *Service) Pay(ctx context.Context, amount int64, code string) (*Payment, error) {
	if amount <= 0 {
		return nil, fmt.Errorf("%w: amount must be more than zero", ErrInput)
	}
	pc, err := paycode.Classify(code)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	now := time.Now()
	p := &Payment{ID: newID(now), Amount: amount, Currency: s.Currency, Scheme: string(pc.Scheme),
		CodeTail: tail(pc.Text), Status: StatusQueued, Created: now, Updated: now}
	body, _ := json.Marshal(AuthBody{ID: p.ID, Amount: amount, Currency: s.Currency, Scheme: p.Scheme, Code: pc.Text})
	wait := s.wait(p.ID)
	defer s.unwait(p.ID)
	ledger, _ := json.Marshal(p)
	e, err := s.Store.Append(ctx, outbox.Record{Key: p.ID, Type: RecordPaymentAuth, Schema: 1, Body: body,
		Puts: []outbox.Put{{Bucket: bucket, Key: p.ID, Value: ledger}}})
	if err != nil {
		return nil, fmt.Errorf("checkout: store payment: %w", err)
	}
	p.Seq = e.Seq
	s.changed(*p)
	t := time.NewTimer(s.WaitOnline)
	defer t.Stop()
	select {
	case r := <-wait:
		// Read back: the result was written to the ledger by OnResult.
		if got, err := s.Get(ctx, p.ID); err == nil {
			return got, nil
		}
		p.Status, p.Reason = r.Status, r.Reason
		return p, nil
	case <-t.C:
		return p, nil
	case <-ctx.Done():
		// The payment is stored and will be sent: say so rather than fail.
		return p, nil
	}
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

// OnResult records the platform's answer to a payment. The link calls it
// for every result, including answers repeated after a lost ack.
func (s *Service) OnResult(r envelope.Result) {
	if !strings.HasPrefix(r.Key, "pay-") {
		return
	}
	ctx := context.Background()
	p, err := s.Get(ctx, r.Key)
	if err != nil {
		s.log().Warn("result for unknown payment", "seq", r.Seq)
		return
	}
	status := r.Status
	if status != StatusApproved && status != StatusDeclined {
		status, r.Reason = StatusDeclined, "platform answered "+r.Status
	}
	if p.Status != status {
		// The ledger entry was written in the same commit that gave the
		// record its seq, before the seq was known.
		p.Seq = r.Seq
		p.Status, p.Reason, p.Updated = status, r.Reason, time.Now()
		b, _ := json.Marshal(p)
		if err := s.Store.Put(ctx, outbox.Put{Bucket: bucket, Key: p.ID, Value: b}); err != nil {
			s.log().Error("ledger update", "err", err, "payment", p.ID)
			return
		}
		s.changed(*p)
	}
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

// Get returns a payment from the ledger.
func (s *Service) Get(ctx context.Context, id string) (*Payment, error) {
	b, ok, err := s.Store.Get(ctx, bucket, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotFound
	}
	var p Payment
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("checkout: ledger entry %s: %w", id, err)
	}
	return &p, nil
}

// Recent returns the last n payments, newest first.
func (s *Service) Recent(ctx context.Context, n int) ([]Payment, error) {
	var all []Payment
	err := s.Store.Scan(ctx, bucket, "pay-", func(_ string, v []byte) bool {
		var p Payment
		if json.Unmarshal(v, &p) == nil {
			all = append(all, p)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	out := make([]Payment, 0, n)
	for i := len(all) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, all[i])
	}
	return out, nil
}
