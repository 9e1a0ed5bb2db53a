package checkout

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/text/currency"

	"github.com/guichet/guichet/device/printer"
)

// Letterhead is what heads a printed receipt: the shop's name and address
// as the configuration spells them, in any script, and the language of
// the receipt's labels.
type Letterhead struct {
	Name    string
	Address []string
	// Lang is "zh", "fr" or "en" (the default).
	Lang string
}

// receiptLabels are the printed receipt's words, by language.
var receiptLabels = map[string]map[string]string{
	"en": {"payment": "Payment", "order": "Order", "scheme": "Scheme", "code": "Code", "amount": "Amount",
		"total": "TOTAL", "refunded": "Refunded", "offline": "approved (offline)", "thanks": "Thank you",
		"approved": "approved", "declined": "declined", "queued": "queued", "reversed": "reversed", "voided": "voided",
		"user_paying": "customer confirming"},
	"fr": {"payment": "Paiement", "order": "Commande", "scheme": "Réseau", "code": "Code", "amount": "Montant",
		"total": "TOTAL", "refunded": "Remboursé", "offline": "accepté (hors ligne)", "thanks": "Merci de votre visite",
		"approved": "accepté", "declined": "refusé", "queued": "en attente", "reversed": "annulé", "voided": "annulé",
		"user_paying": "confirmation en cours"},
	"zh": {"payment": "交易号", "order": "订单", "scheme": "支付方式", "code": "付款码", "amount": "金额",
		"total": "合计", "refunded": "已退款", "offline": "已批准（离线）", "thanks": "谢谢惠顾",
		"approved": "已批准", "declined": "已拒绝", "queued": "排队中", "reversed": "已撤销", "voided": "已作废",
		"user_paying": "顾客确认中"},
}

// Document returns the receipt as the printer prints it: the shop's name
// and address, the payment's lines, the promotion, the total in the
// currency's minor units, the masked code, the status and a QR code of
// the payment's id, which a refund or a void scans to find the payment.
func (r *Receipt) Document(h Letterhead) printer.Document {
	l, ok := receiptLabels[h.Lang]
	if !ok {
		l = receiptLabels["en"]
	}
	var d printer.Document
	add := func(ls ...printer.Line) { d.Lines = append(d.Lines, ls...) }
	if h.Name != "" {
		add(printer.Line{Text: h.Name, Align: printer.Center, Bold: true, Big: true})
	} else if r.Merchant != "" {
		add(printer.Line{Text: r.Merchant, Align: printer.Center, Bold: true, Big: true})
	}
	for _, a := range h.Address {
		add(printer.Line{Text: a, Align: printer.Center})
	}
	add(printer.Line{},
		printer.Line{Text: r.Time.Local().Format("2006-01-02 15:04:05")},
		printer.Line{Text: l["payment"] + " " + r.PaymentID})
	if r.Order != "" {
		add(printer.Line{Text: l["order"] + " " + r.Order})
	}
	add(printer.Line{Text: l["scheme"], Right: r.Scheme},
		printer.Line{Text: l["code"], Right: r.Code})
	if r.Discount > 0 {
		add(printer.Line{Text: l["amount"], Right: FormatMinor(r.Original, r.Currency)},
			printer.Line{Text: r.Promo, Right: "-" + FormatMinor(r.Discount, r.Currency)})
	}
	add(printer.Line{Text: l["total"] + " " + r.Currency, Right: FormatMinor(r.Amount, r.Currency), Bold: true, Big: true})
	if r.Refunded > 0 {
		add(printer.Line{Text: l["refunded"], Right: "-" + FormatMinor(r.Refunded, r.Currency)})
	}
	status := l[r.Status]
	if r.Offline && r.Status == StatusApprovedOffline {
		status = l["offline"]
	}
	if status == "" {
		status = strings.ReplaceAll(r.Status, "_", " ")
	}
	add(printer.Line{Text: status, Align: printer.Center, Bold: true},
		printer.Line{QR: r.PaymentID},
		printer.Line{Text: l["thanks"], Align: printer.Center})
	// A label from the configuration may hold what a printer takes for a
	// command; the receipt prints it blanked rather than not at all.
	for i := range d.Lines {
		d.Lines[i].Text = blankControls(d.Lines[i].Text)
		d.Lines[i].Right = blankControls(d.Lines[i].Right)
	}
	return d
}

func blankControls(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r >= 0x7f && r < 0xa0 {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// FormatMinor formats v, in the minor units of the ISO 4217 currency
// code, with that currency's decimals: FormatMinor(1234, "CNY") is
// "12.34", FormatMinor(1234, "JPY") "1234", FormatMinor(1234, "BHD")
// "1.234". An unknown code gets two decimals.
func FormatMinor(v int64, code string) string {
	scale := 2
	if u, err := currency.ParseISO(code); err == nil {
		scale, _ = currency.Standard.Rounding(u)
	}
	sign, u := "", uint64(v)
	if v < 0 {
		sign, u = "-", uint64(-(v+1))+1 // math.MinInt64 has no positive
	}
	if scale == 0 {
		return fmt.Sprintf("%s%d", sign, u)
	}
	p := uint64(1)
	for range scale {
		p *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, u/p, scale, u%p)
}

// Slips prints the receipts of a Service's payments. The flows that
// print, and that open the drawer, hold one.
type Slips struct {
	Service *Service
	Printer printer.Printer
	Head    Letterhead
}

// Print prints the receipt of payment id.
func (s *Slips) Print(ctx context.Context, id string) error {
	r, err := s.Service.Receipt(ctx, id)
	if err != nil {
		return err
	}
	if err := s.Printer.Print(ctx, r.Document(s.Head)); err != nil {
		return fmt.Errorf("checkout: printing the receipt of %s: %w", id, err)
	}
	return nil
}
