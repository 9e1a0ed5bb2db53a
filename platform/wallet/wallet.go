package wallet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/guichet/guichet/checkout"
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
// Its orders live in the OrderStore given to DecideIn: the reference
// platform passes its own store, inside the transaction that applies the
// records, so that the orders survive a restart and are committed or
// rolled back with the records that made them. Decide keeps them in
// memory instead, for callers without a store: there a query for an order
// it never saw (one authorised before a restart) is answered "declined:
// order not found", which is safe: nothing was taken. A production
// platform asks the wallet instead.
//
// It checks only the flow's own rules (never refund more than paid,
// reverse only what is not paid); the caller applies its authorisation
// rules (blocked codes, limits) before calling Decide or DecideIn for a
// payment.auth.
//
// Like a real wallet's, a customer's code is good for one payment
// (SingleUse) and for CodeTTL after it was scanned (AuthBody.At): a code
// that reaches the wallet later is declined "expired", unless the device
// approved the payment offline and it comes within OfflineWindow, the
// wallet's allowance for offline payments forwarded when the link is back.
type SimWallet struct {
	// CodeTTL is how long a code is good after the scan; 0: forever.
	// Wallets' codes last about a minute (DefaultCodeTTL).
	CodeTTL time.Duration
	// OfflineWindow is how long after the scan a payment the device
	// approved offline is still accepted (when longer than CodeTTL).
	OfflineWindow time.Duration
	// SingleUse declines a code seen before for another payment.
	SingleUse bool

	ConfirmPrefixes []string
	AbandonPrefixes []string
	ConfirmAbove    int64
	ConfirmAfter    time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu  sync.Mutex
	mem *memOrders
}

// OrderStore holds SimWallet's orders, as small JSON values by key. Get
// reports whether the key is there. The platform's decider state
// (platform.State) has the same methods, so it serves without this
// package knowing the platform.
type OrderStore interface {
	Get(key string) ([]byte, bool, error)
	Put(key string, value []byte) error
}

// simOrder is one order as stored: short names, because there is one per
// payment and the platform keeps them all.
type simOrder struct {
	Amount int64 `json:"a"`
	// ConfirmAt is when the customer confirms, in Unix milliseconds; 0:
	// never. A time rather than a delay, so that a restart in between
	// changes nothing.
	ConfirmAt int64  `json:"c,omitempty"`
	State     string `json:"s"` // "paying", "paid", "closed"
	Refunded  int64  `json:"r,omitempty"`
}

// orderPrefix keeps the orders apart from other users of a shared store;
// codePrefix keeps the codes used, for every device: a code is the
// customer's, whatever till scanned it.
const (
	orderPrefix = "simwallet/order/"
	codePrefix  = "simwallet/code/"
)

// Defaults of the code's life, for the platform's configuration.
// DefaultOfflineWindow is a day: an outage that lasts the business day
// still clears when the link is back the next morning, and a wallet that
// accepts offline payments bounds its risk on a stolen code to one day's
// offline limits; beyond it the shop bears the loss, shown in its report.
const (
	DefaultCodeTTL       = time.Minute
	DefaultOfflineWindow = 24 * time.Hour
)

// codeRefused says why the code of b cannot pay now, or "".
func (w *SimWallet) codeRefused(st OrderStore, b checkout.AuthBody) (string, error) {
	if w.CodeTTL > 0 && b.At > 0 {
		limit := w.CodeTTL
		if b.Offline && w.OfflineWindow > limit {
			limit = w.OfflineWindow
		}
		if w.now().Sub(time.UnixMilli(b.At)) > limit {
			return "expired", nil
		}
	}
	if !w.SingleUse {
		return "", nil
	}
	sum := sha256.Sum256([]byte(b.Code))
	key := codePrefix + hex.EncodeToString(sum[:16])
	v, ok, err := st.Get(key)
	if err != nil {
		return "", fmt.Errorf("sim wallet: read code: %w", err)
	}
	if ok && string(v) != b.ID {
		return "code already used", nil
	}
	if err := st.Put(key, []byte(b.ID)); err != nil {
		return "", fmt.Errorf("sim wallet: write code: %w", err)
	}
	return "", nil
}

// maxSimOrders bounds the memory of Decide's store: when it is full,
// orders no longer waiting for the customer are forgotten.
const maxSimOrders = 100000

func (w *SimWallet) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Decide answers one record of the checkout flow with the orders kept in
// memory; other types are answered "applied".
func (w *SimWallet) Decide(rec *envelope.Record) envelope.Result {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mem == nil {
		w.mem = &memOrders{m: map[string][]byte{}}
	}
	res, err := w.DecideIn(w.mem, rec)
	if err != nil {
		// Only a corrupt order gets here: memOrders itself never fails.
		return envelope.Result{Status: checkout.StatusDeclined, Reason: err.Error()}
	}
	return res
}

// DecideIn answers one record of the checkout flow, reading and writing
// its orders in st; other types are answered "applied". An error means st
// failed, or holds an order it cannot read: nothing is decided and the
// caller should not commit what it applied with the record. DecideIn
// does not lock: st is the caller's, and so is its concurrency.
func (w *SimWallet) DecideIn(st OrderStore, rec *envelope.Record) (envelope.Result, error) {
	base := orderPrefix + rec.Tenant + "/" + rec.Device + "/"
	switch rec.Type {
	case checkout.RecordPaymentAuth:
		var b checkout.AuthBody
		if err := json.Unmarshal(rec.Body, &b); err != nil || b.ID == "" || b.Amount <= 0 {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "unreadable payment"}, nil
		}
		if why, err := w.codeRefused(st, b); err != nil || why != "" {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: why}, err
		}
		o := &simOrder{Amount: b.Amount, State: "paid"}
		res := envelope.Result{Status: checkout.StatusApproved}
		if !b.Offline {
			switch {
			case hasAnyPrefix(b.Code, w.AbandonPrefixes):
				o.State = "paying"
			case hasAnyPrefix(b.Code, w.ConfirmPrefixes) || (w.ConfirmAbove > 0 && b.Amount > w.ConfirmAbove):
				// Rounded up to the millisecond: the customer never
				// confirms before ConfirmAfter.
				o.State, o.ConfirmAt = "paying", w.now().Add(w.ConfirmAfter+time.Millisecond-1).UnixMilli()
			}
		}
		if o.State == "paying" {
			res = envelope.Result{Status: checkout.StatusUserPaying, Reason: "waiting for the customer to confirm"}
		}
		return res, putOrder(st, base+b.ID, o)
	case checkout.RecordPaymentQuery:
		var b checkout.QueryBody
		if err := json.Unmarshal(rec.Body, &b); err != nil {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "unreadable query"}, nil
		}
		o, err := getOrder(st, base+b.ID)
		switch {
		case err != nil:
			return envelope.Result{}, err
		case o == nil:
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "order not found"}, nil
		case o.State == "paying" && o.ConfirmAt != 0 && w.now().UnixMilli() >= o.ConfirmAt:
			o.State = "paid"
			if err := putOrder(st, base+b.ID, o); err != nil {
				return envelope.Result{}, err
			}
		}
		switch o.State {
		case "paid":
			return envelope.Result{Status: checkout.StatusApproved}, nil
		case "paying":
			return envelope.Result{Status: checkout.StatusUserPaying, Reason: "waiting for the customer to confirm"}, nil
		}
		return envelope.Result{Status: checkout.StatusDeclined, Reason: "order closed"}, nil
	case checkout.RecordPaymentReverse:
		var b checkout.ReverseBody
		if err := json.Unmarshal(rec.Body, &b); err != nil {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "unreadable reverse"}, nil
		}
		o, err := getOrder(st, base+b.ID)
		if err != nil {
			return envelope.Result{}, err
		}
		if o != nil {
			if o.State == "paid" {
				// The device learns of the success from the query answered
				// before this reverse and refunds it itself.
				return envelope.Result{Status: checkout.StatusDeclined, Reason: "already paid: refund it"}, nil
			}
			o.State = "closed"
			if err := putOrder(st, base+b.ID, o); err != nil {
				return envelope.Result{}, err
			}
		}
		return envelope.Result{Status: checkout.ResultReversed}, nil
	case checkout.RecordPaymentRefund:
		var b checkout.RefundBody
		if err := json.Unmarshal(rec.Body, &b); err != nil || b.Amount <= 0 {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "unreadable refund"}, nil
		}
		o, err := getOrder(st, base+b.ID)
		if err != nil {
			return envelope.Result{}, err
		}
		if o == nil {
			// Not seen here: trust the device's own accounting, checked.
			if b.Before < 0 || b.Before+b.Amount > b.Paid {
				return envelope.Result{Status: checkout.StatusDeclined, Reason: "refund above the amount paid"}, nil
			}
			return envelope.Result{Status: checkout.ResultRefunded}, nil
		}
		if o.State != "paid" || o.Refunded+b.Amount > o.Amount {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "refund above the amount paid"}, nil
		}
		o.Refunded += b.Amount
		return envelope.Result{Status: checkout.ResultRefunded}, putOrder(st, base+b.ID, o)
	case checkout.RecordQROrder, checkout.RecordQRCancel, checkout.RecordQRExpire:
		return w.decideQR(st, rec)
	case checkout.RecordPaymentVoid:
		var b checkout.VoidBody
		if err := json.Unmarshal(rec.Body, &b); err != nil {
			return envelope.Result{Status: checkout.StatusDeclined, Reason: "unreadable void"}, nil
		}
		o, err := getOrder(st, base+b.ID)
		if err != nil {
			return envelope.Result{}, err
		}
		if o != nil {
			if o.State != "paid" || o.Refunded > 0 {
				return envelope.Result{Status: checkout.StatusDeclined, Reason: "nothing to void"}, nil
			}
			o.State = "closed"
			if err := putOrder(st, base+b.ID, o); err != nil {
				return envelope.Result{}, err
			}
		}
		return envelope.Result{Status: checkout.ResultVoided}, nil
	}
	return envelope.Result{Status: "applied"}, nil
}

// getOrder returns the order stored under key, nil if there is none.
func getOrder(st OrderStore, key string) (*simOrder, error) {
	v, ok, err := st.Get(key)
	if err != nil {
		return nil, fmt.Errorf("sim wallet: read %s: %w", key, err)
	}
	if !ok {
		return nil, nil
	}
	o := &simOrder{}
	if err := json.Unmarshal(v, o); err != nil {
		return nil, fmt.Errorf("sim wallet: order %s unreadable: %w", key, err)
	}
	return o, nil
}

func putOrder(st OrderStore, key string, o *simOrder) error {
	v, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("sim wallet: encode %s: %w", key, err)
	}
	if err := st.Put(key, v); err != nil {
		return fmt.Errorf("sim wallet: write %s: %w", key, err)
	}
	return nil
}

// memOrders is Decide's OrderStore. It is bounded, unlike a platform's
// store: it lives in the process, and a stand-in wallet must not be what
// runs a platform out of memory.
type memOrders struct {
	m map[string][]byte
}

// Get implements OrderStore.
func (s *memOrders) Get(key string) ([]byte, bool, error) {
	v, ok := s.m[key]
	return v, ok, nil
}

// Put implements OrderStore; when the store is full, it makes room first.
func (s *memOrders) Put(key string, value []byte) error {
	if _, ok := s.m[key]; !ok && len(s.m) >= maxSimOrders {
		for k, v := range s.m {
			// An order still waiting for the customer is kept: its
			// query must not be answered "not found".
			var o simOrder
			if json.Unmarshal(v, &o) != nil || o.State != "paying" {
				delete(s.m, k)
			}
			if len(s.m) < maxSimOrders*9/10 {
				break
			}
		}
	}
	s.m[key] = value
	return nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if p != "" && strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
