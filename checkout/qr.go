package checkout

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

// The shop's dynamic QR code (merchant-presented, the customer scans it)
// is an order: StartQR stores it and, in the same commit, a qr.order
// record that tells the platform its reference, amount and expiry. The
// platform answers "open"; when the customer's wallet pays it, the
// platform notifies the device with a signed qr_paid command, and the
// order is paid. An order nobody pays expires at its expiry: the device
// sends a qr.expire record, and the cashier may cancel an open one
// (qr.cancel). The platform answers both with the order's end as it sees
// it: "paid" if the wallet paid first (a lost notification is caught up
// there), else "expired" or "cancelled", and from then on it refuses to
// pay it. Every record's key is derived from the order's reference, so a
// retry never acts twice.

// Record types and the command of the QR orders.
const (
	RecordQROrder  = "qr.order"
	RecordQRCancel = "qr.cancel"
	RecordQRExpire = "qr.expire"
	// CommandQRPaid is the platform's notification that a wallet paid an
	// order; its args are QRPaid.
	CommandQRPaid = "qr_paid"
)

// Statuses of a QR order: open when stored, sent once the platform has
// it, then paid, expired or cancelled.
const (
	QROpen      = "open"
	QRSent      = "sent"
	QRPaid      = "paid"
	QRExpired   = "expired"
	QRCancelled = "cancelled"
)

// DefaultQRTTL is how long a QR order can be paid when the configuration
// says nothing: long enough for a customer to open the wallet and scan,
// short enough that the code on the screen is not paid after they left.
const DefaultQRTTL = 2 * time.Minute

// QROrder is one of the shop's dynamic QR codes, as the qr_orders table
// keeps it.
type QROrder struct {
	Ref      string    `json:"ref"`
	Amount   int64     `json:"amount"` // minor units
	Currency string    `json:"currency"`
	Payload  string    `json:"payload"` // the EMVCo payload shown
	Status   string    `json:"status"`
	Reason   string    `json:"reason,omitempty"`
	Day      string    `json:"day"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	Updated  time.Time `json:"updated"`
	PaidAt   time.Time `json:"paid_at,omitzero"`
	// Closed is set once the platform answered the cancel or the expiry:
	// it will not pay the order any more.
	Closed bool `json:"closed,omitempty"`
}

// Final reports whether the order has reached its end.
func (o *QROrder) Final() bool {
	return o.Status == QRPaid || o.Status == QRExpired || o.Status == QRCancelled
}

// QROrderBody is the body of a qr.order record.
type QROrderBody struct {
	Ref      string `json:"ref"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// Expires is when the order can no longer be paid, Unix milliseconds.
	Expires int64 `json:"expires"`
}

// QRCloseBody is the body of a qr.cancel or qr.expire record.
type QRCloseBody struct {
	Ref string `json:"ref"`
}

// QRPaidArgs is the args of a qr_paid command.
type QRPaidArgs struct {
	Ref      string `json:"ref"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// At is when the wallet paid, Unix milliseconds.
	At int64 `json:"at"`
}

// Results the platform answers QR records with.
const (
	ResultQROpen      = QROpen
	ResultQRPaid      = QRPaid
	ResultQRExpired   = QRExpired
	ResultQRCancelled = QRCancelled
)

// MaxRef is the longest order reference: EMVCo's reference label holds 25
// characters.
const MaxRef = 25

// ErrQR is wrapped by errors about a QR record's body or a qr_paid
// command's args.
var ErrQR = errors.New("checkout: bad QR order message")

// maxQRMessage bounds what the parsers read.
const maxQRMessage = 1024

// validRef accepts 1 to MaxRef letters, digits and '-'.
func validRef(s string) bool {
	if s == "" || len(s) > MaxRef {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// strict decodes one JSON object into v, refusing unknown fields and
// trailing data.
func strict(b []byte, v any) error {
	if len(b) > maxQRMessage {
		return fmt.Errorf("%d bytes, at most %d", len(b), maxQRMessage)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON")
	}
	return nil
}

// ParseQROrderBody reads and checks a qr.order record's body: the
// platform's side of it.
func ParseQROrderBody(b []byte) (QROrderBody, error) {
	var o QROrderBody
	if err := strict(b, &o); err != nil {
		return QROrderBody{}, fmt.Errorf("%w: qr.order: %v", ErrQR, err)
	}
	switch {
	case !validRef(o.Ref):
		return QROrderBody{}, fmt.Errorf("%w: qr.order: ref must be 1 to %d letters, digits or '-'", ErrQR, MaxRef)
	case o.Amount <= 0 || o.Amount > MaxAmount:
		return QROrderBody{}, fmt.Errorf("%w: qr.order: amount must be between 1 and %d", ErrQR, int64(MaxAmount))
	case !validCurrency(o.Currency):
		return QROrderBody{}, fmt.Errorf("%w: qr.order: currency must be 3 capital letters", ErrQR)
	case o.Expires <= 0:
		return QROrderBody{}, fmt.Errorf("%w: qr.order: no expiry", ErrQR)
	}
	return o, nil
}

// ParseQRCloseBody reads and checks a qr.cancel or qr.expire body.
func ParseQRCloseBody(b []byte) (QRCloseBody, error) {
	var c QRCloseBody
	if err := strict(b, &c); err != nil {
		return QRCloseBody{}, fmt.Errorf("%w: qr close: %v", ErrQR, err)
	}
	if !validRef(c.Ref) {
		return QRCloseBody{}, fmt.Errorf("%w: qr close: ref must be 1 to %d letters, digits or '-'", ErrQR, MaxRef)
	}
	return c, nil
}

// ParseQRPaid reads and checks a qr_paid command's args.
func ParseQRPaid(b []byte) (QRPaidArgs, error) {
	var p QRPaidArgs
	if err := strict(b, &p); err != nil {
		return QRPaidArgs{}, fmt.Errorf("%w: qr_paid: %v", ErrQR, err)
	}
	switch {
	case !validRef(p.Ref):
		return QRPaidArgs{}, fmt.Errorf("%w: qr_paid: ref must be 1 to %d letters, digits or '-'", ErrQR, MaxRef)
	case p.Amount <= 0 || p.Amount > MaxAmount:
		return QRPaidArgs{}, fmt.Errorf("%w: qr_paid: amount must be between 1 and %d", ErrQR, int64(MaxAmount))
	case !validCurrency(p.Currency):
		return QRPaidArgs{}, fmt.Errorf("%w: qr_paid: currency must be 3 capital letters", ErrQR)
	case p.At <= 0:
		return QRPaidArgs{}, fmt.Errorf("%w: qr_paid: no time", ErrQR)
	}
	return p, nil
}

// newRef returns a time-ordered unique order reference: "Q", the time in
// milliseconds (11 hex digits) and 32 random bits, 20 characters.
func newRef(now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("Q%011x%s", now.UnixMilli(), hex.EncodeToString(b[:]))
}

func (s *Service) qrTTL() time.Duration {
	if s.QRTTL > 0 {
		return s.QRTTL
	}
	return DefaultQRTTL
}

// StartQR makes a QR order of amount (minor units) for the shop
// (QRMerchant): it stores the order and its qr.order record in one commit,
// and returns it with the payload to show.
func (s *Service) StartQR(ctx context.Context, amount int64) (*QROrder, error) {
	if amount <= 0 || amount > MaxAmount {
		return nil, fmt.Errorf("%w: amount must be more than zero and at most %s", ErrInput, FormatMinor(MaxAmount, s.Currency))
	}
	now := s.now()
	ref := newRef(now)
	payload, err := MerchantQR(s.QRMerchant, s.Currency, amount, ref)
	if err != nil {
		return nil, err
	}
	o := &QROrder{Ref: ref, Amount: amount, Currency: s.Currency, Payload: payload, Status: QROpen,
		Created: now, Updated: now, Expires: now.Add(s.qrTTL()), Day: dayOf(now)}
	b, _ := json.Marshal(QROrderBody{Ref: ref, Amount: amount, Currency: s.Currency, Expires: o.Expires.UnixMilli()})
	s.closeMu.RLock()
	_, err = s.Store.Append(ctx, outbox.Record{Key: ref, Type: RecordQROrder, Schema: 1, Body: b,
		Write: func(tx *sql.Tx) error {
			day, err := businessDay(context.WithoutCancel(ctx), tx, o.Created)
			if err != nil {
				return err
			}
			o.Day = day
			return saveQR(tx, o)
		}})
	s.closeMu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("checkout: store QR order: %w", err)
	}
	s.qrChanged(*o)
	return o, nil
}

// GetQR returns a QR order.
func (s *Service) GetQR(ctx context.Context, ref string) (*QROrder, error) {
	var o QROrder
	ok, err := queryDoc(ctx, s.Store.Reader(), &o, `SELECT doc FROM qr_orders WHERE ref = ?`, ref)
	if err != nil {
		return nil, fmt.Errorf("checkout: QR order %s: %w", clip(ref), err)
	}
	if !ok {
		return nil, ErrNotFound
	}
	return &o, nil
}

// CancelQR cancels an open QR order: the platform is told with a
// qr.cancel record, and answers "paid" if the wallet paid it first.
func (s *Service) CancelQR(ctx context.Context, ref string) (*QROrder, error) {
	return s.updateQR(ctx, ref, func(o *QROrder) (*outbox.Record, bool, error) {
		if o.Final() {
			return nil, false, fmt.Errorf("%w: the order is %s", ErrState, o.Status)
		}
		o.Status, o.Reason = QRCancelled, "cancelled by the cashier"
		b, _ := json.Marshal(QRCloseBody{Ref: o.Ref})
		return &outbox.Record{Key: o.Ref + ":cancel", Type: RecordQRCancel, Schema: 1, Body: b}, true, nil
	})
}

// expireQR ends the open orders whose expiry has passed, each with a
// qr.expire record. Drive calls it.
func (s *Service) expireQR(ctx context.Context) {
	refs, err := queryIDs(ctx, s.Store.Reader(), `SELECT ref FROM qr_orders WHERE status IN ('open', 'sent') AND expires <= ?`, s.now().UnixMilli())
	if err != nil {
		s.log().Error("open QR orders", "err", err)
		return
	}
	for _, ref := range refs {
		if ctx.Err() != nil {
			return
		}
		_, err := s.updateQR(ctx, ref, func(o *QROrder) (*outbox.Record, bool, error) {
			if o.Final() || s.now().Before(o.Expires) {
				return nil, false, nil
			}
			o.Status, o.Reason = QRExpired, ""
			b, _ := json.Marshal(QRCloseBody{Ref: o.Ref})
			return &outbox.Record{Key: o.Ref + ":expire", Type: RecordQRExpire, Schema: 1, Body: b}, true, nil
		})
		if err != nil {
			s.log().Error("expire QR order", "ref", ref, "err", err)
		}
	}
}

// OnQRResult records the platform's answer to a QR record. The link's
// router calls it for every result to a record of QRResultTypes.
func (s *Service) OnQRResult(r envelope.Result) {
	ref, op, _ := strings.Cut(r.Key, ":")
	_, err := s.updateQR(context.Background(), ref, func(o *QROrder) (*outbox.Record, bool, error) {
		switch {
		case r.Status == ResultQRPaid:
			return nil, s.paid(o, "", s.now()), nil
		case op == "" && r.Status == ResultQROpen:
			if o.Status == QROpen {
				o.Status = QRSent
				return nil, true, nil
			}
		case op == "" && r.Status != "duplicate" && r.Status != "applied":
			// The platform refused the order (a reference in use, say):
			// nobody can pay it.
			if !o.Final() {
				o.Status, o.Reason, o.Closed = QRCancelled, "platform refused the order: "+clip(r.Status+" "+r.Reason), true
				return nil, true, nil
			}
		case op == "cancel" || op == "expire":
			if !o.Closed && (r.Status == ResultQRCancelled || r.Status == ResultQRExpired) {
				o.Closed = true
				return nil, true, nil
			}
		}
		return nil, false, nil
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.log().Error("QR result", "key", clip(r.Key), "err", err)
	}
}

// ErrQRClosed is returned for a qr_paid command about an order the
// platform already agreed was cancelled or expired.
var ErrQRClosed = errors.New("checkout: QR order closed by the platform")

// applyQRPaid applies a qr_paid command.
func (s *Service) applyQRPaid(ctx context.Context, args []byte) error {
	p, err := ParseQRPaid(args)
	if err != nil {
		return err
	}
	_, err = s.updateQR(ctx, p.Ref, func(o *QROrder) (*outbox.Record, bool, error) {
		switch {
		case o.Amount != p.Amount || o.Currency != p.Currency:
			return nil, false, fmt.Errorf("%w: qr_paid: %s %d for an order of %s %d", ErrQR, p.Currency, p.Amount, o.Currency, o.Amount)
		case o.Status == QRPaid:
			return nil, false, nil // told again
		case o.Closed:
			return nil, false, fmt.Errorf("%w: %s is %s", ErrQRClosed, o.Ref, o.Status)
		}
		return nil, s.paid(o, "", time.UnixMilli(p.At)), nil
	})
	return err
}

// paid marks o paid, whatever the device thought: the platform took the
// customer's money. A cancel or expiry the platform had not yet seen is
// overruled, and said so.
func (s *Service) paid(o *QROrder, why string, at time.Time) bool {
	if o.Status == QRPaid {
		return false
	}
	if o.Status == QRCancelled || o.Status == QRExpired {
		why = "paid before the " + map[string]string{QRCancelled: "cancel", QRExpired: "expiry"}[o.Status] + " reached the platform"
	}
	o.Status, o.Reason, o.PaidAt, o.Closed = QRPaid, why, at, true
	return true
}

// updateQR reads order ref, lets fn change it, and commits the change
// with the record fn returns (if any).
func (s *Service) updateQR(ctx context.Context, ref string, fn func(o *QROrder) (*outbox.Record, bool, error)) (*QROrder, error) {
	s.ledgerMu.Lock()
	o, err := s.GetQR(ctx, ref)
	if err != nil {
		s.ledgerMu.Unlock()
		return nil, err
	}
	before := o.Status
	rec, ok, err := fn(o)
	if err != nil || !ok {
		s.ledgerMu.Unlock()
		return o, err
	}
	o.Updated = s.now()
	saved := *o
	err = s.commit(ctx, rec, func(tx *sql.Tx) error { return saveQR(tx, &saved) })
	s.ledgerMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("checkout: update of QR order %s: %w", ref, err)
	}
	if o.Status != before {
		s.qrChanged(*o)
	}
	return o, nil
}

func (s *Service) qrChanged(o QROrder) {
	s.log().Info("qr order", "ref", o.Ref, "status", o.Status, "amount", o.Amount)
	if s.OnQRChange != nil {
		s.OnQRChange(o)
	}
}

func saveQR(tx *sql.Tx, o *QROrder) error {
	doc, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO qr_orders(ref, created, expires, day, status, amount, doc) VALUES(?,?,?,?,?,?,?)
		ON CONFLICT(ref) DO UPDATE SET status=excluded.status, doc=excluded.doc`,
		o.Ref, o.Created.UnixMilli(), o.Expires.UnixMilli(), o.Day, o.Status, o.Amount, doc); err != nil {
		return fmt.Errorf("checkout: save QR order %s: %w", o.Ref, err)
	}
	return nil
}

// QRTotals are a day's QR orders in the report: the paid ones count in
// the sales (scheme "merchant_qr"); the others are listed.
type QRTotals struct {
	Paid      int64    `json:"paid"`
	PaidCount int      `json:"paid_count"`
	Open      int      `json:"open"`
	Ended     []QRLine `json:"ended,omitempty"`
}

// QRLine is an order that ended unpaid, in the report.
type QRLine struct {
	Ref    string    `json:"ref"`
	Amount int64     `json:"amount"`
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

// SchemeMerchantQR is the report's scheme of the paid QR orders.
const SchemeMerchantQR = "merchant_qr"

// maxQRLines bounds the unpaid orders a report lists.
const maxQRLines = 200

// addQR adds day's QR orders to r.
func (s *Service) addQR(ctx context.Context, r *Report, day string) error {
	rows, err := s.Store.Reader().QueryContext(ctx, `SELECT status, amount, doc FROM qr_orders WHERE day = ? ORDER BY created`, day)
	if err != nil {
		return fmt.Errorf("checkout: report %s: QR orders: %w", day, err)
	}
	defer rows.Close()
	q := QRTotals{}
	for rows.Next() {
		var status string
		var amount int64
		var doc []byte
		if err := rows.Scan(&status, &amount, &doc); err != nil {
			return fmt.Errorf("checkout: report %s: QR orders: %w", day, err)
		}
		switch status {
		case QRPaid:
			q.Paid += amount
			q.PaidCount++
		case QROpen, QRSent:
			q.Open++
		default:
			var o QROrder
			if err := json.Unmarshal(doc, &o); err != nil {
				return fmt.Errorf("checkout: report %s: QR order: %w", day, err)
			}
			if len(q.Ended) < maxQRLines {
				q.Ended = append(q.Ended, QRLine{Ref: o.Ref, Amount: o.Amount, Status: o.Status, At: o.Updated})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("checkout: report %s: QR orders: %w", day, err)
	}
	if q.PaidCount > 0 {
		r.Schemes = append(r.Schemes, SchemeTotal{Scheme: SchemeMerchantQR, Count: q.PaidCount, Amount: q.Paid})
		r.Sales += q.Paid
		r.Count += q.PaidCount
	}
	if q.PaidCount > 0 || q.Open > 0 || len(q.Ended) > 0 {
		r.QR = &q
	}
	return nil
}

// pruneQR deletes the QR orders created before cutoff (Unix ms) that
// ended, with no record still waiting for the platform's ack (as for
// payments: the outbox holds the reference and its "ref:..." keys).
func (s *Service) pruneQR(ctx context.Context, cutoff int64) error {
	err := s.Store.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`DELETE FROM qr_orders WHERE created < ? AND status IN ('paid', 'expired', 'cancelled')
			AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.key >= qr_orders.ref AND o.key < qr_orders.ref || ';')`, cutoff)
		return err
	})
	if err != nil {
		return fmt.Errorf("checkout: prune QR orders: %w", err)
	}
	return nil
}
