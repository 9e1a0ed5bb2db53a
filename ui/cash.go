package ui

import (
	"context"
	"errors"
	"net/http"

	"github.com/guichet/guichet/checkout"
)

// Cash takes payments in cash.
type Cash interface {
	PayCash(ctx context.Context, amount int64) (*checkout.Payment, error)
}

// Finder finds the payment a refund or a void is for: by the reference
// on its receipt (the QR code scanned, or typed), or in the day's list.
// The cashier never types a payment's id.
type Finder interface {
	Lookup(ctx context.Context, ref string) (*checkout.Payment, error)
	DayPayments(ctx context.Context, day string) ([]checkout.Payment, error)
}

// drawerReply is a payment stored whose cash drawer did not open: the
// sale, refund or void stands, and the page tells the cashier to open
// the drawer by its key.
type drawerReply struct {
	*checkout.Payment
	DrawerError string `json:"drawer_error"`
}

func (s *Server) cashRoutes(mux *http.ServeMux) {
	if s.Cash != nil {
		mux.HandleFunc("POST /api/pay/cash", func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				Amount string `json:"amount"`
			}
			if !decode(w, r, &req) {
				return
			}
			amount, err := checkout.ParseAmount(req.Amount, s.Currency)
			if err != nil {
				writeErr(w, err)
				return
			}
			reply(w)(s.Cash.PayCash(r.Context(), amount))
		})
	}
	if s.Finder != nil {
		// ?ref= is what the till's scanner read from a receipt's QR code,
		// or what the cashier typed from it.
		mux.HandleFunc("GET /api/lookup", func(w http.ResponseWriter, r *http.Request) {
			reply(w)(s.Finder.Lookup(r.Context(), r.URL.Query().Get("ref")))
		})
		mux.HandleFunc("GET /api/day/payments", func(w http.ResponseWriter, r *http.Request) {
			reply(w)(s.Finder.DayPayments(r.Context(), r.URL.Query().Get("day")))
		})
	}
}

// drawerFailed writes v, a payment stored, with the error of the drawer
// that did not open; it reports false when err is not that.
func drawerFailed(w http.ResponseWriter, v any, err error) bool {
	p, ok := v.(*checkout.Payment)
	if !ok || p == nil || !errors.Is(err, checkout.ErrDrawer) {
		return false
	}
	writeJSON(w, http.StatusOK, drawerReply{p, err.Error()})
	return true
}
