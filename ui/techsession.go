package ui

import (
	"net/http"
	"strings"

	"github.com/guichet/guichet/staff"
)

// The technician's screen has its own sign-in: a technician's credential,
// not a cashier's or an official's. A technician's session serves the
// technician's routes (wrapped in Server.technician) and not the till's: the
// person who services the appliance does not take payments.

// techRoutes adds POST /api/tech/signin, which opens a session for a
// technician's account only.
func (s *Server) techRoutes(mux *http.ServeMux) {
	if s.Staff == nil {
		return
	}
	mux.HandleFunc("POST /api/tech/signin", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Technician string `json:"technician"`
			PIN        string `json:"pin"`
		}
		if !decode(w, r, &req) {
			return
		}
		p, err := s.Staff.Check(r.Context(), strings.TrimSpace(req.Technician), req.PIN)
		if err != nil {
			s.log().Warn("technician sign-in refused", "err", err)
			writeStaffErr(w, err)
			return
		}
		if p.Role != staff.Technician {
			s.log().Warn("technician sign-in refused", "person", p.ID, "role", p.Role)
			writeJSON(w, http.StatusForbidden, apiError{"technician: this account is not a technician's"})
			return
		}
		s.openSession(w, p)
		writeJSON(w, http.StatusOK, p)
	})
}

// technician serves h only to a technician: a technician's session in the
// browser, or anyone on the socket (whose group the installation limits to
// the appliance's administrators). Anyone else gets 401 without a session
// and 403 with someone else's.
func (s *Server) technician(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := callerOf(r.Context())
		switch {
		case !ok:
			writeJSON(w, http.StatusUnauthorized, apiError{"session: a technician signs in first"})
		case c.local != "" || c.person.Role == staff.Technician:
			h(w, r)
		default:
			writeJSON(w, http.StatusForbidden, apiError{"technician: a technician's session is needed"})
		}
	}
}

// techAPI are the routes open to a technician's session besides the
// technician's own (/api/tech/...): what the technician's screen reads.
func techAPI(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/tech/") || publicAPI(r) || p == "/api/selftest" || p == "/api/sync"
}
