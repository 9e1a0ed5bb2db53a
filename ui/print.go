package ui

import (
	"context"
	"net/http"
)

// Receipts prints a payment's receipt on the counter's printer.
type Receipts interface {
	Print(ctx context.Context, id string) error
}

func (s *Server) printRoutes(mux *http.ServeMux) {
	if s.Receipts == nil {
		return
	}
	mux.HandleFunc("POST /api/payments/{id}/print", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := s.Receipts.Print(r.Context(), id); err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Printed string `json:"printed"`
		}{id})
	})
}
