package ui

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/tamper"
)

// Tamper is the tamper switch's lock as the UI shows and clears it;
// *tamper.Switch satisfies it.
type Tamper interface {
	State() tamper.State
	Clear(ctx context.Context, technician, pin string) (tamper.State, error)
}

// tamperRoutes serve the switch's state and its clearing. Clearing takes a
// technician's id and PIN in the body, on the socket as in the browser:
// the socket's user alone is not enough, as the lock is there for someone
// who opened the case.
func (s *Server) tamperRoutes(mux *http.ServeMux) {
	if s.Tamper == nil {
		return
	}
	mux.HandleFunc("GET /api/tamper", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Tamper.State())
	})
	mux.HandleFunc("POST /api/tamper/clear", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Technician string `json:"technician"`
			PIN        string `json:"pin"`
		}
		if !decode(w, r, &req) {
			return
		}
		st, err := s.Tamper.Clear(r.Context(), strings.TrimSpace(req.Technician), req.PIN)
		if err != nil {
			code := http.StatusInternalServerError
			switch {
			case errors.Is(err, staff.ErrBadPIN):
				code = http.StatusUnauthorized
			case errors.Is(err, staff.ErrLocked):
				code = http.StatusLocked
			case errors.Is(err, tamper.ErrNotTechnician):
				code = http.StatusForbidden
			case errors.Is(err, tamper.ErrNotLocked):
				code = http.StatusConflict
			}
			writeJSON(w, code, apiError{err.Error()})
			return
		}
		s.log().Warn("tamper lock cleared", "by", st.ClearedBy, "caller", callerName(r))
		writeJSON(w, http.StatusOK, st)
	})
}
