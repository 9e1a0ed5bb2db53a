package ui

import (
	"context"
	"net/http"
	"strings"

	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/staff"
)

// The technician's screen manages the till's accounts and the e-ID
// counter's officials (tech-staff.html). A technician's session enrols,
// resets and removes cashiers and supervisors, and enrols officials or
// resets their PINs; it never creates, resets or removes a technician's
// account: those stay on the socket (guichet cashier add --role
// technician), so that a technician's PIN seen over a shoulder cannot mint
// more technicians. Every change is logged (ids and roles only) and, where
// the store keeps an audit log, audited.

// Audit appends entries to the store's audit log (*audit.Log), the one
// the e-ID counter and the tamper switch append to.
type Audit interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// techStaffRoutes adds the accounts' routes of the technician's screen,
// all behind Server.technician.
func (s *Server) techStaffRoutes(mux *http.ServeMux) {
	if s.Staff != nil {
		mux.HandleFunc("GET /api/tech/staff", s.technician(s.techStaffList))
		mux.HandleFunc("POST /api/tech/staff", s.technician(s.techStaffAdd))
		mux.HandleFunc("POST /api/tech/staff/{id}/pin", s.technician(s.techStaffReset))
		mux.HandleFunc("DELETE /api/tech/staff/{id}", s.technician(s.techStaffRemove))
	}
	s.techOfficialRoutes(mux)
}

func (s *Server) techStaffList(w http.ResponseWriter, r *http.Request) {
	ps, err := s.Staff.List(r.Context())
	if err != nil {
		writeStaffErr(w, err)
		return
	}
	if ps == nil {
		ps = []staff.Person{}
	}
	writeJSON(w, http.StatusOK, ps)
}

// onSocket says whether the request came over the Unix socket.
func onSocket(r *http.Request) bool {
	c, _ := callerOf(r.Context())
	return c.local != ""
}

// refuseTechnicianAccount answers 403 when a browser's session would
// create, reset or remove a technician's account.
func (s *Server) refuseTechnicianAccount(w http.ResponseWriter, r *http.Request, step, id string) bool {
	if onSocket(r) {
		return false
	}
	s.log().Warn("technician account change refused", "step", step, "person", id, "by", callerName(r))
	s.auditStaff(r, step, "refused", id, string(staff.Technician))
	writeJSON(w, http.StatusForbidden, apiError{"staff: a technician's account is managed on the appliance (guichet cashier add --role technician), not in the browser"})
	return true
}

func (s *Server) techStaffAdd(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID   string     `json:"id"`
		Name string     `json:"name"`
		Role staff.Role `json:"role"`
		PIN  string     `json:"pin"`
	}
	if !decode(w, r, &req) {
		return
	}
	id := strings.TrimSpace(req.ID)
	if req.Role == staff.Technician && s.refuseTechnicianAccount(w, r, "staff_add", id) {
		return
	}
	if err := s.Staff.Add(r.Context(), id, strings.TrimSpace(req.Name), req.Role, req.PIN); err != nil {
		writeStaffErr(w, err)
		return
	}
	s.log().Info("staff added", "person", id, "role", req.Role, "by", callerName(r))
	s.auditStaff(r, "staff_add", "ok", id, string(req.Role))
	writeJSON(w, http.StatusOK, map[string]string{"added": id})
}

func (s *Server) techStaffReset(w http.ResponseWriter, r *http.Request) {
	var req struct {
		PIN string `json:"pin"`
	}
	if !decode(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	if s.isTechnician(r.Context(), id) && s.refuseTechnicianAccount(w, r, "staff_reset", id) {
		return
	}
	if err := s.Staff.Reset(r.Context(), id, req.PIN); err != nil {
		writeStaffErr(w, err)
		return
	}
	s.log().Info("PIN reset", "person", id, "by", callerName(r))
	s.auditStaff(r, "staff_reset", "ok", id, "")
	writeJSON(w, http.StatusOK, map[string]string{"reset": id})
}

func (s *Server) techStaffRemove(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if s.isTechnician(r.Context(), id) && s.refuseTechnicianAccount(w, r, "staff_remove", id) {
		return
	}
	if err := s.Staff.Remove(r.Context(), id); err != nil {
		writeStaffErr(w, err)
		return
	}
	s.log().Info("staff removed", "person", id, "by", callerName(r))
	s.auditStaff(r, "staff_remove", "ok", id, "")
	writeJSON(w, http.StatusOK, map[string]string{"removed": id})
}

// auditStaff appends an entry for an account's change: the technician (or the
// socket's user) as the official, the account's id as the subject, the
// role as the reason. Ids only, never a name or a PIN.
func (s *Server) auditStaff(r *http.Request, step, outcome, subject, reason string) {
	if s.Audit == nil {
		return
	}
	e := audit.Entry{Official: auditName(callerName(r)), Step: step, Outcome: outcome, Subject: auditName(subject), Reason: auditName(reason)}
	if _, err := s.Audit.Append(r.Context(), e); err != nil {
		s.log().Error("audit append failed", "step", step, "err", err)
	}
}

// auditName keeps a name the audit log accepts (1-64 bytes of
// [A-Za-z0-9._:-]) and drops anything else, such as an id refused as
// malformed.
func auditName(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return ""
		}
	}
	return s
}
