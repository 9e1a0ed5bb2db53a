package checkout

import (
	"context"
	"strings"
	"time"
)

// Receipt is what the customer is handed. It carries the code masked,
// never whole: the code is a bearer token.
type Receipt struct {
	Merchant  string    `json:"merchant,omitempty"`
	PaymentID string    `json:"payment_id"`
	Order     string    `json:"order,omitempty"`
	Time      time.Time `json:"time"`
	Scheme    string    `json:"scheme"`
	Code      string    `json:"code"` // masked, e.g. "**************6780"
	Currency  string    `json:"currency"`
	Original  int64     `json:"original,omitempty"`
	Discount  int64     `json:"discount,omitempty"`
	Promo     string    `json:"promo,omitempty"`
	Amount    int64     `json:"amount"`
	Refunded  int64     `json:"refunded,omitempty"`
	Status    string    `json:"status"`
	Offline   bool      `json:"offline,omitempty"`
	// Operator is the cashier who took the payment.
	Operator string `json:"operator,omitempty"`
}

// Receipt returns the receipt of payment id.
func (s *Service) Receipt(ctx context.Context, id string) (*Receipt, error) {
	p, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	r := &Receipt{Merchant: s.Merchant, PaymentID: p.ID, Order: p.Order, Time: p.Created, Scheme: p.Scheme,
		Code: mask(p.CodeTail, p.CodeLen), Currency: p.Currency, Original: p.Original, Discount: p.Discount,
		Amount: p.Amount, Refunded: p.Refunded, Status: p.Status, Offline: p.Offline,
		Operator: p.Operator}
	if p.Promo != "" {
		r.Promo = p.Promo
		for _, pr := range s.Promotions(ctx) {
			if pr.ID == p.Promo && pr.Label != "" {
				r.Promo = pr.Label
			}
		}
	}
	return r, nil
}

func mask(tail string, n int) string {
	if n < len(tail) {
		n = len(tail)
	}
	if n > 64 {
		n = 64 // an EMV code is long; the stars say nothing more past this
	}
	return strings.Repeat("*", n-len(tail)) + tail
}

// Text renders the receipt as plain text, 32 columns wide for a
// thermal printer.
func (r *Receipt) Text() string {
	var b strings.Builder
	line := func(left, right string) {
		pad := 32 - len(left) - len(right)
		if pad < 1 {
			pad = 1
		}
		b.WriteString(left + strings.Repeat(" ", pad) + right + "\n")
	}
	if r.Merchant != "" {
		b.WriteString(r.Merchant + "\n")
	}
	b.WriteString(r.Time.Local().Format("2006-01-02 15:04:05") + "\n")
	b.WriteString("Payment " + r.PaymentID + "\n")
	if r.Order != "" {
		b.WriteString("Order " + r.Order + "\n")
	}
	if r.Operator != "" {
		line("Cashier", r.Operator)
	}
	line("Scheme", r.Scheme)
	line("Code", r.Code)
	if r.Discount > 0 {
		line("Amount", FormatMinor(r.Original, r.Currency))
		line(clipTo(r.Promo, 20), "-"+FormatMinor(r.Discount, r.Currency))
	}
	line("TOTAL "+r.Currency, FormatMinor(r.Amount, r.Currency))
	if r.Refunded > 0 {
		line("Refunded", "-"+FormatMinor(r.Refunded, r.Currency))
	}
	status := strings.ToUpper(strings.ReplaceAll(r.Status, "_", " "))
	if r.Offline && r.Status == StatusApprovedOffline {
		status = "APPROVED (OFFLINE)"
	}
	line("Status", status)
	return b.String()
}

func clipTo(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// String is Text, so a receipt prints as itself.
func (r *Receipt) String() string { return r.Text() }
