//go:build !noopencv

package ui

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/counter"
	"github.com/guichet/guichet/tamper"
)

// Counter is the e-ID counter's flow as the official's page uses it.
// Every call but SignIn and Current takes the official's session token.
type Counter interface {
	SignIn(ctx context.Context, official, pin string) (string, error)
	SignOut(ctx context.Context, token string) error
	Begin(ctx context.Context, token string) (counter.Screen, error)
	ReadCard(ctx context.Context, token string, access cardreader.Access) (counter.Screen, error)
	RetryFace(ctx context.Context, token string) (counter.Screen, error)
	Confirm(ctx context.Context, token string) (counter.Screen, error)
	Refuse(ctx context.Context, token string, why counter.Reason) (counter.Screen, error)
	Activation(ctx context.Context, id string) (counter.Stored, error)
	// Current returns the screen, its version and a channel closed when
	// it changes.
	Current() (counter.Screen, uint64, <-chan struct{})
}

// eidReply is the answer of the counter's routes: the screen after the
// step, and the error if the step failed.
type eidReply struct {
	Screen counter.Screen `json:"screen"`
	Error  string         `json:"error,omitempty"`
}

// counterRoutes serves the official's page, where a counter is set.
func (s *Server) counterRoutes(mux *http.ServeMux) {
	if s.Counter == nil {
		return
	}
	mux.HandleFunc("POST /api/eid/signin", s.eidSignIn)
	mux.HandleFunc("POST /api/eid/signout", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Counter.SignOut(r.Context(), bearer(r)); err != nil {
			s.eidAnswer(w, counter.Screen{}, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"signed_out": true})
	})
	step := func(f func(context.Context, string) (counter.Screen, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			sc, err := f(r.Context(), bearer(r))
			s.eidAnswer(w, sc, err)
		}
	}
	mux.HandleFunc("POST /api/eid/begin", step(s.Counter.Begin))
	mux.HandleFunc("POST /api/eid/retry", step(s.Counter.RetryFace))
	mux.HandleFunc("POST /api/eid/confirm", step(s.Counter.Confirm))
	mux.HandleFunc("POST /api/eid/card", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			DocumentNumber string `json:"document_number"`
			BirthDate      string `json:"birth_date"`
			ExpiryDate     string `json:"expiry_date"`
			CAN            string `json:"can"`
		}
		if r.ContentLength != 0 && !decode(w, r, &req) {
			return
		}
		// Reading waits for the card to be laid on the reader; the
		// official can take a minute to find it.
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
		defer cancel()
		extendWrite(w, 2*time.Minute+10*time.Second)
		sc, err := s.Counter.ReadCard(ctx, bearer(r), cardreader.Access{
			DocumentNumber: strings.ToUpper(strings.TrimSpace(req.DocumentNumber)),
			BirthDate:      strings.TrimSpace(req.BirthDate), ExpiryDate: strings.TrimSpace(req.ExpiryDate),
			CAN: strings.TrimSpace(req.CAN),
		})
		s.eidAnswer(w, sc, err)
	})
	mux.HandleFunc("POST /api/eid/refuse", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Reason string `json:"reason"`
		}
		if !decode(w, r, &req) {
			return
		}
		sc, err := s.Counter.Refuse(r.Context(), bearer(r), counter.Reason(req.Reason))
		s.eidAnswer(w, sc, err)
	})
	mux.HandleFunc("GET /api/eid/screen", func(w http.ResponseWriter, r *http.Request) { longPoll(w, r, s.Counter.Current) })
	mux.HandleFunc("GET /api/eid/activations/{id}", func(w http.ResponseWriter, r *http.Request) {
		st, err := s.Counter.Activation(r.Context(), r.PathValue("id"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, apiError{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	if s.Officials != nil && s.TechnicianToken != "" {
		mux.HandleFunc("POST /api/eid/officials/{id}/pin", s.eidSetPIN)
	}
}

func (s *Server) eidSignIn(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Official string `json:"official"`
		PIN      string `json:"pin"`
	}
	if !decode(w, r, &req) {
		return
	}
	tok, err := s.Counter.SignIn(r.Context(), strings.TrimSpace(req.Official), req.PIN)
	if err != nil {
		s.eidAnswer(w, counter.Screen{Step: counter.StepSignIn}, err)
		return
	}
	sc, _, _ := s.Counter.Current()
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "screen": sc})
}

// eidAnswer writes the screen with the status that says what went wrong.
func (s *Server) eidAnswer(w http.ResponseWriter, sc counter.Screen, err error) {
	code := http.StatusOK
	switch {
	case err == nil:
	case errors.Is(err, counter.ErrSession), errors.Is(err, counter.ErrBadPIN):
		code = http.StatusUnauthorized
	case errors.Is(err, counter.ErrLocked), errors.Is(err, tamper.ErrLocked):
		code = http.StatusLocked
	case errors.Is(err, counter.ErrStep), errors.Is(err, counter.ErrConfirm):
		code = http.StatusConflict
	case errors.Is(err, counter.ErrReason), errors.Is(err, counter.ErrWeakPIN), errors.Is(err, counter.ErrShared), errors.Is(err, counter.ErrOfficial):
		code = http.StatusBadRequest
	default:
		// A card that cannot be read, a wrong MRZ, a photo that will
		// not decode: the official reads the reason and tries again.
		code = http.StatusUnprocessableEntity
	}
	rep := eidReply{Screen: sc}
	if err != nil {
		rep.Error = err.Error()
	}
	writeJSON(w, code, rep)
}

// eidSetPIN enrols an official or resets a PIN. It takes the technician's
// token, which only root on the appliance can read, so that nobody at the
// counter's browser can give themselves an account.
func (s *Server) eidSetPIN(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(bearer(r)), []byte(s.TechnicianToken)) != 1 {
		writeJSON(w, http.StatusUnauthorized, apiError{"technician token required"})
		return
	}
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
	s.Log.Info("official PIN set", "official", id)
	writeJSON(w, http.StatusOK, map[string]string{"official": id})
}
