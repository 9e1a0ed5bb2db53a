package ui

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/tamper"
)

// Till is the rest of the cashier's work beyond taking a payment: refunds,
// voids, receipts, split bills and the day's report.
type Till interface {
	Refund(ctx context.Context, id string, amount int64) (*checkout.Payment, error)
	Void(ctx context.Context, id string) (*checkout.Payment, error)
	Receipt(ctx context.Context, id string) (*checkout.Receipt, error)
	Report(ctx context.Context, day string) (*checkout.Report, error)
	CloseDay(ctx context.Context) (*checkout.Report, error)
	NewOrder(ctx context.Context, total int64) (*checkout.Order, error)
	GetOrder(ctx context.Context, id string) (*checkout.OrderView, error)
	PayPart(ctx context.Context, id string, amount int64, code string) (*checkout.Payment, error)
}

func (s *Server) tillRoutes(mux *http.ServeMux) {
	if s.Till == nil {
		return
	}
	mux.HandleFunc("POST /api/payments/{id}/refund", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			supervision
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
		r, ok := s.supervise(w, r, req.supervision)
		if !ok {
			return
		}
		p, err := s.Till.Refund(r.Context(), r.PathValue("id"), amount)
		s.audit(r, "refund", err)
		reply(w)(p, err)
	})
	mux.HandleFunc("POST /api/payments/{id}/void", func(w http.ResponseWriter, r *http.Request) {
		var req supervision
		if !decode(w, r, &req) {
			return
		}
		r, ok := s.supervise(w, r, req)
		if !ok {
			return
		}
		p, err := s.Till.Void(r.Context(), r.PathValue("id"))
		s.audit(r, "void", err)
		reply(w)(p, err)
	})
	mux.HandleFunc("GET /api/payments/{id}/receipt", func(w http.ResponseWriter, r *http.Request) {
		reply(w)(s.Till.Receipt(r.Context(), r.PathValue("id")))
	})
	mux.HandleFunc("GET /api/report", func(w http.ResponseWriter, r *http.Request) {
		// No day: the flow's business day, which is tomorrow's date once
		// today is closed.
		reply(w)(s.Till.Report(r.Context(), r.URL.Query().Get("day")))
	})
	mux.HandleFunc("POST /api/day/close", func(w http.ResponseWriter, r *http.Request) {
		var req supervision
		if !decode(w, r, &req) {
			return
		}
		r, ok := s.supervise(w, r, req)
		if !ok {
			return
		}
		rep, err := s.Till.CloseDay(r.Context())
		s.audit(r, "close day", err)
		reply(w)(rep, err)
	})
	mux.HandleFunc("POST /api/orders", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Total string `json:"total"`
		}
		if !decode(w, r, &req) {
			return
		}
		total, err := checkout.ParseAmount(req.Total, s.Currency)
		if err != nil {
			writeErr(w, err)
			return
		}
		reply(w)(s.Till.NewOrder(r.Context(), total))
	})
	mux.HandleFunc("GET /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		reply(w)(s.Till.GetOrder(r.Context(), r.PathValue("id")))
	})
	mux.HandleFunc("POST /api/orders/{id}/pay", func(w http.ResponseWriter, r *http.Request) {
		var req PayRequest
		if !decode(w, r, &req) {
			return
		}
		amount, err := checkout.ParseAmount(req.Amount, s.Currency)
		if err != nil {
			writeErr(w, err)
			return
		}
		reply(w)(s.Till.PayPart(r.Context(), r.PathValue("id"), amount, req.Code))
	})
}

// audit logs who did a supervised step, and whether it was done.
func (s *Server) audit(r *http.Request, what string, err error) {
	op := checkout.OperatorOf(r.Context())
	s.log().Info(what, "payment", r.PathValue("id"), "operator", op.Cashier, "supervisor", op.Supervisor, "ok", err == nil)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"request: " + err.Error()})
		return false
	}
	return true
}

// reply writes a flow's answer, mapping its errors to HTTP statuses.
func reply(w http.ResponseWriter) func(any, error) {
	return func(v any, err error) {
		if drawerFailed(w, v, err) {
			return
		}
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

func writeErr(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, checkout.ErrInput), errors.Is(err, checkout.ErrArgs):
		code = http.StatusBadRequest
	case errors.Is(err, checkout.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, checkout.ErrState):
		code = http.StatusConflict
	case errors.Is(err, checkout.ErrNeedsNetwork):
		code = http.StatusServiceUnavailable
	case errors.Is(err, tamper.ErrLocked):
		code = http.StatusLocked
	}
	writeJSON(w, code, apiError{err.Error()})
}
