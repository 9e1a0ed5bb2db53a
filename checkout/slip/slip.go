// Package slip prints the till's receipts: it lays a checkout.Receipt out
// for a receipt printer (device/printer) under the shop's letterhead, and
// prints a stored payment's receipt. It lives apart from checkout so that
// the flow's package, which the platform imports for its rules, links no
// device code.
package slip

import (
	"context"
	"fmt"
	"strings"

	"github.com/guichet/guichet/checkout"
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
		"user_paying": "customer confirming", "cash": "Cash"},
	"fr": {"payment": "Paiement", "order": "Commande", "scheme": "Réseau", "code": "Code", "amount": "Montant",
		"total": "TOTAL", "refunded": "Remboursé", "offline": "accepté (hors ligne)", "thanks": "Merci de votre visite",
		"approved": "accepté", "declined": "refusé", "queued": "en attente", "reversed": "annulé", "voided": "annulé",
		"user_paying": "confirmation en cours", "cash": "Espèces"},
	"zh": {"payment": "交易号", "order": "订单", "scheme": "支付方式", "code": "付款码", "amount": "金额",
		"total": "合计", "refunded": "已退款", "offline": "已批准（离线）", "thanks": "谢谢惠顾",
		"approved": "已批准", "declined": "已拒绝", "queued": "排队中", "reversed": "已撤销", "voided": "已作废",
		"user_paying": "顾客确认中", "cash": "现金"},
}

// Document returns receipt r as the printer prints it: the shop's name
// and address, the payment's lines, the promotion, the total in the
// currency's minor units, the masked code, the status and a QR code of
// the payment's id, which a refund or a void scans to find the payment.
func Document(r *checkout.Receipt, h Letterhead) printer.Document {
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
	if r.Scheme == checkout.SchemeCash {
		// Cash has no code to mask.
		add(printer.Line{Text: l["scheme"], Right: l["cash"]})
	} else {
		add(printer.Line{Text: l["scheme"], Right: r.Scheme},
			printer.Line{Text: l["code"], Right: r.Code})
	}
	if r.Discount > 0 {
		add(printer.Line{Text: l["amount"], Right: checkout.FormatMinor(r.Original, r.Currency)},
			printer.Line{Text: r.Promo, Right: "-" + checkout.FormatMinor(r.Discount, r.Currency)})
	}
	add(printer.Line{Text: l["total"] + " " + r.Currency, Right: checkout.FormatMinor(r.Amount, r.Currency), Bold: true, Big: true})
	if r.Refunded > 0 {
		add(printer.Line{Text: l["refunded"], Right: "-" + checkout.FormatMinor(r.Refunded, r.Currency)})
	}
	status := l[r.Status]
	if r.Offline && r.Status == checkout.StatusApprovedOffline {
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

// Slips prints the receipts of a Service's payments. The flows that
// print, and that open the drawer, hold one.
type Slips struct {
	Service *checkout.Service
	Printer printer.Printer
	Head    Letterhead
}

// Print prints the receipt of payment id.
func (s *Slips) Print(ctx context.Context, id string) error {
	r, err := s.Service.Receipt(ctx, id)
	if err != nil {
		return err
	}
	if err := s.Printer.Print(ctx, Document(r, s.Head)); err != nil {
		return fmt.Errorf("slip: printing the receipt of %s: %w", id, err)
	}
	return nil
}

// FirstApproval reports whether p's change is the one that approved it,
// when a receipt printed by itself is due: approved offline, or approved
// without having been approved offline before (online, after the
// customer confirmed, in cash). The platform's later approval of an
// offline payment prints no second slip.
func FirstApproval(p checkout.Payment) bool {
	return p.Status == checkout.StatusApprovedOffline || p.Status == checkout.StatusApproved && !p.Offline
}
