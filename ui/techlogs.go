package ui

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/guichet/guichet/internal/logring"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

// The technician's page of logs and of the queue (tech-logs.html): the
// daemon's last log records, redacted (internal/logring), and the records
// the platform rejected, which block the queue until someone moves past
// them. The platform's operator does so with a skip_rejected command; the
// technician on site with the page's "move past" button, which the
// queue's audit trail records with the technician's id and reason.

// Queue is the outbox as the technician's page uses it (*outbox.Store).
type Queue interface {
	Rejections(ctx context.Context) ([]outbox.Rejection, error)
	SkipRejected(ctx context.Context, id envelope.OutboxID, seq uint64, reason, command string) error
	Audit(ctx context.Context) ([]outbox.AuditEntry, error)
}

// maxSkipReason bounds the technician's reason for moving past a record.
const maxSkipReason = 500

// techLogRoutes adds GET /api/tech/logs, GET /api/tech/rejected and POST
// /api/tech/rejected/{outbox}/{seq}/skip, for a technician only.
func (s *Server) techLogRoutes(mux *http.ServeMux) {
	if s.Logs != nil {
		mux.HandleFunc("GET /api/tech/logs", s.technician(s.techLogs))
	}
	if s.Queue != nil {
		mux.HandleFunc("GET /api/tech/rejected", s.technician(s.techRejected))
		mux.HandleFunc("POST /api/tech/rejected/{outbox}/{seq}/skip", s.technician(s.techSkip))
	}
}

// techLogs answers the kept records at ?level= (debug, info, warn, error;
// default debug) or above, newest first.
func (s *Server) techLogs(w http.ResponseWriter, r *http.Request) {
	var min slog.Level = slog.LevelDebug
	if q := r.URL.Query().Get("level"); q != "" {
		if err := min.UnmarshalText([]byte(q)); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"level: debug, info, warn or error"})
			return
		}
	}
	recs := s.Logs.Records(min)
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	if recs == nil {
		recs = []logring.Record{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": recs})
}

// techRejected answers the rejected records blocking the queue and the
// queue's audit trail, newest first.
func (s *Server) techRejected(w http.ResponseWriter, r *http.Request) {
	rej, err := s.Queue.Rejections(r.Context())
	if err != nil {
		s.log().Error("rejected records", "err", err)
		writeJSON(w, http.StatusInternalServerError, apiError{"queue: " + err.Error()})
		return
	}
	aud, err := s.Queue.Audit(r.Context())
	if err != nil {
		s.log().Error("queue audit", "err", err)
		writeJSON(w, http.StatusInternalServerError, apiError{"queue: " + err.Error()})
		return
	}
	for i, j := 0, len(aud)-1; i < j; i, j = i+1, j-1 {
		aud[i], aud[j] = aud[j], aud[i]
	}
	if len(aud) > 50 {
		aud = aud[:50]
	}
	if rej == nil {
		rej = []outbox.Rejection{}
	}
	if aud == nil {
		aud = []outbox.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rejected": rej, "audit": aud})
}

// techSkip moves past the rejected record at the head of the queue, with
// the technician's reason; the queue's audit entry names the technician
// ("technician:ID", or the socket's "local:NAME").
func (s *Server) techSkip(w http.ResponseWriter, r *http.Request) {
	id, err := envelope.ParseOutboxID(r.PathValue("outbox"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"outbox: " + err.Error()})
		return
	}
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		writeJSON(w, http.StatusBadRequest, apiError{"seq: a record's sequence number"})
		return
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if !decode(w, r, &req) {
		return
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" || utf8.RuneCountInString(reason) > maxSkipReason || !utf8.ValidString(reason) {
		writeJSON(w, http.StatusBadRequest, apiError{"reason: say why the record is moved past (1 to 500 characters)"})
		return
	}
	// A rejected record only: moving past a record merely waiting for its
	// acknowledgement would lose it.
	rej, err := s.Queue.Rejections(r.Context())
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{"queue: " + err.Error()})
		return
	}
	found := false
	for _, x := range rej {
		found = found || (x.Outbox == id && x.Seq == seq)
	}
	if !found {
		writeJSON(w, http.StatusNotFound, apiError{"queue: record " + strconv.FormatUint(seq, 10) + " is not a rejected record waiting"})
		return
	}
	c, _ := callerOf(r.Context())
	who := "technician:" + c.person.ID
	if c.local != "" {
		who = c.local
	}
	if err := s.Queue.SkipRejected(r.Context(), id, seq, reason, who); err != nil {
		s.log().Warn("move past a rejected record refused", "seq", seq, "err", err)
		code := http.StatusInternalServerError
		if errors.Is(err, outbox.ErrNotHead) {
			code = http.StatusConflict
		}
		writeJSON(w, code, apiError{err.Error()})
		return
	}
	s.log().Info("rejected record moved past by a technician", "outbox", id.String(), "seq", seq, "person", c.person.ID)
	writeJSON(w, http.StatusOK, map[string]any{"outbox": id, "seq": seq, "by": who})
}
