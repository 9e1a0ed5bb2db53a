package ui

import (
	"context"
	"net/http"
	"strings"

	"github.com/guichet/guichet/eid/credential"
)

// Officials enrols officials and resets their PINs: the technician's job.
type Officials interface {
	SetPIN(ctx context.Context, official, pin string) error
}

// Verifier checks the e-ID QR codes citizens show on their phones.
type Verifier interface {
	Verify(text string) credential.Verdict
}

func (s *Server) eidRoutes(mux *http.ServeMux) {
	if s.Verifier != nil {
		mux.HandleFunc("POST /api/eid/verify", s.eidVerify)
	}
	s.counterRoutes(mux)
}

// bearer returns the session token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	t, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return strings.TrimSpace(t)
}

func (s *Server) eidVerify(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Text string `json:"text"`
	}
	if !decode(w, r, &req) {
		return
	}
	writeJSON(w, http.StatusOK, s.Verifier.Verify(strings.TrimRight(req.Text, "\r\n")))
}
