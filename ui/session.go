package ui

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/staff"
)

// Staff checks the PINs of the till's people and, on the technician's
// socket, enrols them; *staff.Staff satisfies it.
type Staff interface {
	Check(ctx context.Context, id, pin string) (staff.Person, error)
	Supervisor(ctx context.Context, id, pin string) (staff.Person, error)
	Add(ctx context.Context, id, name string, role staff.Role, pin string) error
	Reset(ctx context.Context, id, pin string) error
	Remove(ctx context.Context, id string) error
	List(ctx context.Context) ([]staff.Person, error)
}

// DefaultIdleSignOut is how long a session lasts without a request when
// Server.IdleSignOut is zero.
const DefaultIdleSignOut = 15 * time.Minute

// sessionCookie is the name of the cashier's session cookie. HttpOnly:
// no script reads it; SameSite=Strict: no other site's page sends it.
const sessionCookie = "guichet_session"

// sessions are the cashiers signed in, by the hex token of their cookie.
// They live in memory: a restart of the daemon signs everyone out.
type sessions struct {
	mu   sync.Mutex
	m    map[string]*session
	idle time.Duration
	now  func() time.Time
}

type session struct {
	who  staff.Person
	last time.Time
}

func (ss *sessions) open(p staff.Person) string {
	var raw [32]byte
	rand.Read(raw[:])
	tok := hex.EncodeToString(raw[:])
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	// Sweep the expired ones here rather than in a goroutine of its own.
	for k, v := range ss.m {
		if now.Sub(v.last) >= ss.idle {
			delete(ss.m, k)
		}
	}
	ss.m[tok] = &session{who: p, last: now}
	return tok
}

// get returns the person of a live session, and renews it if renew; an
// idle one is closed.
func (ss *sessions) get(tok string, renew bool) (staff.Person, bool) {
	if !validToken(tok) {
		return staff.Person{}, false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	v, ok := ss.m[tok]
	if !ok {
		return staff.Person{}, false
	}
	now := ss.now()
	if now.Sub(v.last) >= ss.idle {
		delete(ss.m, tok)
		return staff.Person{}, false
	}
	if renew {
		v.last = now
	}
	return v.who, true
}

func (ss *sessions) close(tok string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, tok)
}

// validToken says whether a cookie's value has the shape of a session
// token: 64 lower-case hex digits.
func validToken(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *Server) sessions() *sessions {
	s.sessOnce.Do(func() {
		idle := s.IdleSignOut
		if idle <= 0 {
			idle = DefaultIdleSignOut
		}
		now := s.Clock
		if now == nil {
			now = time.Now
		}
		s.sess = &sessions{m: map[string]*session{}, idle: idle, now: now}
	})
	return s.sess
}

// publicAPI are the routes a page may use without a session: the
// customer's screen, the configuration, the status, signing in, and the
// e-ID counter's, which take the official's own token, and the tamper
// switch's, whose clearing takes the technician's own PIN.
func publicAPI(r *http.Request) bool {
	p := r.URL.Path
	switch {
	case safeMethod(r.Method) && (p == "/api/config" || p == "/api/display" || p == "/api/display/qr.png" || p == "/api/status" || p == "/api/session" || p == "/api/tamper"):
		return true
	case r.Method == http.MethodPost && (p == "/api/signin" || p == "/api/signout" || p == "/api/tamper/clear" || p == "/api/tech/signin"):
		return true
	case strings.HasPrefix(p, "/api/eid/"):
		return true
	}
	return false
}

// caller is who sends a request: a signed-in person, or the local user of
// the technician's socket.
type caller struct {
	person staff.Person
	local  string // "local:NAME" on the socket
}

type callerKey struct{}

func callerOf(ctx context.Context) (caller, bool) {
	c, ok := ctx.Value(callerKey{}).(caller)
	return c, ok
}

// withCaller records c in the request's context, and its id as the
// operator the flows record.
func withCaller(r *http.Request, c caller) *http.Request {
	id := c.person.ID
	if c.local != "" {
		id = c.local
	}
	ctx := context.WithValue(r.Context(), callerKey{}, c)
	return r.WithContext(checkout.WithOperator(ctx, checkout.Operator{Cashier: id}))
}

// needSession refuses an API request without a live session, but for the
// public routes.
func (s *Server) needSession(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			// Only what the cashier does renews the session: the
			// pages' own polls (scans, payments, status) read
			// without end, and would keep an unattended till signed in.
			if p, ok := s.sessions().get(c.Value, !safeMethod(r.Method)); ok {
				if p.Role == staff.Technician && strings.HasPrefix(r.URL.Path, "/api/") && !techAPI(r) {
					writeJSON(w, http.StatusForbidden, apiError{"technician: the till's routes need a cashier's session"})
					return
				}
				h.ServeHTTP(w, withCaller(r, caller{person: p}))
				return
			}
		}
		if strings.HasPrefix(r.URL.Path, "/api/") && !publicAPI(r) {
			writeJSON(w, http.StatusUnauthorized, apiError{"session: sign in first"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) sessionRoutes(mux *http.ServeMux) {
	if s.Staff == nil {
		return
	}
	mux.HandleFunc("POST /api/signin", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Cashier string `json:"cashier"`
			PIN     string `json:"pin"`
		}
		if !decode(w, r, &req) {
			return
		}
		p, err := s.Staff.Check(r.Context(), strings.TrimSpace(req.Cashier), req.PIN)
		if err != nil {
			s.log().Warn("sign-in refused", "err", err)
			writeStaffErr(w, err)
			return
		}
		if p.Role == staff.Technician {
			writeJSON(w, http.StatusForbidden, apiError{"signin: a technician signs in on the technician's screen (/tech.html)"})
			return
		}
		s.openSession(w, p)
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("POST /api/signout", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(sessionCookie); err == nil {
			s.sessions().close(c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		writeJSON(w, http.StatusOK, map[string]bool{"signed_out": true})
	})
	mux.HandleFunc("GET /api/session", func(w http.ResponseWriter, r *http.Request) {
		c, ok := callerOf(r.Context())
		if !ok {
			writeJSON(w, http.StatusUnauthorized, apiError{"session: sign in first"})
			return
		}
		if c.local != "" {
			writeJSON(w, http.StatusOK, staff.Person{ID: c.local, Name: c.local})
			return
		}
		writeJSON(w, http.StatusOK, c.person)
	})
	// A supervisor resets a locked-out cashier's PIN at the till; the
	// technician does it on the socket, where the caller is trusted.
	mux.HandleFunc("POST /api/staff/{id}/pin", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			supervision
			PIN string `json:"pin"`
		}
		if !decode(w, r, &req) {
			return
		}
		if c, _ := callerOf(r.Context()); c.local == "" {
			var ok bool
			if r, ok = s.supervise(w, r, req.supervision); !ok {
				return
			}
		}
		id := r.PathValue("id")
		if c, _ := callerOf(r.Context()); c.local == "" && s.isTechnician(r.Context(), id) {
			// Else a supervisor could give a technician's account a PIN of
			// their own and clear the tamper lock with it.
			writeJSON(w, http.StatusForbidden, apiError{"staff: a technician's PIN is reset on the appliance (guichet cashier reset), not at the till"})
			return
		}
		if err := s.Staff.Reset(r.Context(), id, req.PIN); err != nil {
			writeStaffErr(w, err)
			return
		}
		s.log().Info("PIN reset", "person", id, "by", checkout.OperatorOf(r.Context()))
		writeJSON(w, http.StatusOK, map[string]string{"reset": id})
	})
}

// openSession signs p in: a new session and its cookie.
func (s *Server) openSession(w http.ResponseWriter, p staff.Person) {
	tok := s.sessions().open(p)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	s.log().Info("signed in", "operator", p.ID, "role", p.Role)
}

// isTechnician says whether id is a technician's account.
func (s *Server) isTechnician(ctx context.Context, id string) bool {
	ps, err := s.Staff.List(ctx)
	if err != nil {
		return true // refuse rather than guess
	}
	for _, p := range ps {
		if p.ID == id {
			return p.Role == staff.Technician
		}
	}
	return false
}

// supervision is the supervisor's id and PIN in the body of a refund, a
// void, closing the day or a PIN reset.
type supervision struct {
	Supervisor    string `json:"supervisor"`
	SupervisorPIN string `json:"supervisor_pin"`
}

// supervise checks the supervisor's PIN in the request (a cashier's
// session is not enough) and returns the request with the supervisor in
// its operator. A wrong PIN counts towards the supervisor's lock-out.
func (s *Server) supervise(w http.ResponseWriter, r *http.Request, sv supervision) (*http.Request, bool) {
	if s.Staff == nil {
		writeJSON(w, http.StatusForbidden, apiError{"supervisor: no staff accounts on this till"})
		return r, false
	}
	if sv.Supervisor == "" || sv.SupervisorPIN == "" {
		writeJSON(w, http.StatusForbidden, apiError{"supervisor: a supervisor's id and PIN are needed"})
		return r, false
	}
	p, err := s.Staff.Supervisor(r.Context(), strings.TrimSpace(sv.Supervisor), sv.SupervisorPIN)
	if err != nil {
		s.log().Warn("supervisor refused", "path", r.URL.Path, "operator", checkout.OperatorOf(r.Context()).Cashier, "err", err)
		if errors.Is(err, staff.ErrLocked) {
			writeJSON(w, http.StatusLocked, apiError{err.Error()})
		} else {
			writeJSON(w, http.StatusForbidden, apiError{"supervisor: " + err.Error()})
		}
		return r, false
	}
	op := checkout.OperatorOf(r.Context())
	op.Supervisor = p.ID
	return r.WithContext(checkout.WithOperator(r.Context(), op)), true
}

func writeStaffErr(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, staff.ErrBadPIN):
		code = http.StatusUnauthorized
	case errors.Is(err, staff.ErrLocked):
		code = http.StatusLocked
	case errors.Is(err, staff.ErrUnknown):
		code = http.StatusNotFound
	case errors.Is(err, staff.ErrExists):
		code = http.StatusConflict
	case errors.Is(err, staff.ErrID), errors.Is(err, staff.ErrShared), errors.Is(err, staff.ErrRole), errors.Is(err, staff.ErrName),
		errors.Is(err, staff.ErrNotSupervisor), strings.HasPrefix(err.Error(), "pin:"):
		code = http.StatusBadRequest
	}
	writeJSON(w, code, apiError{err.Error()})
}

// localName names the user at the other end of the socket for the audit:
// "local:root", or "local:uid=1000" if the name is unknown.
func localName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return "local:" + u.Username
	}
	return fmt.Sprintf("local:uid=%s", id)
}
