//go:build !noopencv

package ui

import (
	"context"
	"net/http"

	"github.com/guichet/guichet/eid/counter"
)

// techOfficialRoutes adds the e-ID counter's officials to the technician's
// accounts page; a build without OpenCV has no counter (eid_nocounter.go).
func (s *Server) techOfficialRoutes(mux *http.ServeMux) {
	if s.Officials != nil {
		mux.HandleFunc("POST /api/tech/officials/{id}/pin", s.technician(s.techOfficialPIN))
	}
	if l, ok := s.Officials.(OfficialsLister); ok {
		mux.HandleFunc("GET /api/tech/officials", s.technician(func(w http.ResponseWriter, r *http.Request) {
			as, err := l.ListOfficials(r.Context())
			if err != nil {
				s.log().Error("officials list", "err", err)
				writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
				return
			}
			writeJSON(w, http.StatusOK, as)
		}))
	}
}

// OfficialsLister lists the e-ID counter's officials with their
// lock-outs (*counter.Desk); Server.Officials that also lists gets the
// list on the technician's screen.
type OfficialsLister interface {
	ListOfficials(ctx context.Context) ([]counter.Account, error)
}

// techOfficialPIN enrols an official of the e-ID counter or resets a
// locked-out official's PIN: the same step, as the counter keeps one PIN
// record per official.
func (s *Server) techOfficialPIN(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PIN string `json:"pin"`
	}
	if !decode(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	if err := s.Officials.SetPIN(r.Context(), id, req.PIN); err != nil {
		s.eidAnswer(w, counter.Screen{}, err)
		return
	}
	s.log().Info("official PIN set", "official", id, "by", callerName(r))
	s.auditStaff(r, "official_pin", "ok", id, "")
	writeJSON(w, http.StatusOK, map[string]string{"official": id})
}
