package ui

import (
	"context"
	"net/http"
	"time"

	"github.com/guichet/guichet/internal/selftest"
)

// SelfTest runs the appliance's self-test (package internal/selftest)
// over the running daemon's devices; an error means it could not start,
// such as one already running.
type SelfTest func(ctx context.Context) (selftest.Report, error)

// selfTestRoutes adds POST /api/selftest, for `guichet selftest` and the
// technician's screen: it runs every check and answers the report, 200
// whether checks failed or not (the report says). POST, as it prints a
// slip, opens the drawer and sounds the buzzer.
func (s *Server) selfTestRoutes(mux *http.ServeMux) {
	if s.SelfTest == nil {
		return
	}
	mux.HandleFunc("POST /api/selftest", s.technician(func(w http.ResponseWriter, r *http.Request) {
		// The checks wait for the platform's answer and the devices.
		extendWrite(w, 2*time.Minute)
		rep, err := s.SelfTest(r.Context())
		if err != nil {
			writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}))
}
