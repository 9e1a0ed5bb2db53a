package ui

import (
	"context"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/guichet/guichet/staff"
)

// The Unix socket is the technician's and the scripts' channel (the
// guichet command): only its owner and group can connect (mode 0660), so a
// request on it is trusted without a session, and its operator is the
// peer's user as the kernel reports it (SO_PEERCRED). Refunds, voids and
// closing the day still need a supervisor's PIN.

type peerKey struct{}

// peerContext records the uid of the process at the other end of a Unix
// socket connection, for http.Server.ConnContext.
func peerContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *syscall.Ucred
	raw.Control(func(fd uintptr) {
		cred, err = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err != nil || cred == nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, cred.Uid)
}

// LocalHandler returns the handler of the Unix socket: the API without
// sessions or Host checks, with the enrolment of the till's people.
func (s *Server) LocalHandler() http.Handler {
	mux := s.mux()
	if s.Staff != nil {
		mux.HandleFunc("GET /api/staff", func(w http.ResponseWriter, r *http.Request) {
			ps, err := s.Staff.List(r.Context())
			if err != nil {
				writeStaffErr(w, err)
				return
			}
			if ps == nil {
				ps = []staff.Person{}
			}
			writeJSON(w, http.StatusOK, ps)
		})
		mux.HandleFunc("POST /api/staff", func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				ID   string     `json:"id"`
				Name string     `json:"name"`
				Role staff.Role `json:"role"`
				PIN  string     `json:"pin"`
			}
			if !decode(w, r, &req) {
				return
			}
			if err := s.Staff.Add(r.Context(), strings.TrimSpace(req.ID), strings.TrimSpace(req.Name), req.Role, req.PIN); err != nil {
				writeStaffErr(w, err)
				return
			}
			s.log().Info("staff added", "person", req.ID, "role", req.Role, "by", callerName(r))
			writeJSON(w, http.StatusOK, map[string]string{"added": req.ID})
		})
		mux.HandleFunc("DELETE /api/staff/{id}", func(w http.ResponseWriter, r *http.Request) {
			id := r.PathValue("id")
			if err := s.Staff.Remove(r.Context(), id); err != nil {
				writeStaffErr(w, err)
				return
			}
			s.log().Info("staff removed", "person", id, "by", callerName(r))
			writeJSON(w, http.StatusOK, map[string]string{"removed": id})
		})
	}
	return securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !safeMethod(r.Method) && !isJSON(r.Header.Get("Content-Type")) {
			s.refuse(w, r, http.StatusUnsupportedMediaType, "request: the API takes application/json only")
			return
		}
		name := "local:unknown"
		if uid, ok := r.Context().Value(peerKey{}).(uint32); ok {
			name = localName(uid)
		}
		mux.ServeHTTP(w, withCaller(r, caller{local: name}))
	}))
}

func callerName(r *http.Request) string {
	c, _ := callerOf(r.Context())
	if c.local != "" {
		return c.local
	}
	return c.person.ID
}
