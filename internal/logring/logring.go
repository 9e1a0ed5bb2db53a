// Package logring keeps the daemon's last log records in memory for the
// technician's screen: a slog.Handler that passes every record on to the
// real handler and keeps a copy of the last N in a ring. The copy keeps
// only attributes whose keys are on an allow-list of keys known to carry
// no personal data (ids of devices and records, sequence numbers, errors,
// durations, states); any other attribute's value is replaced by
// Redacted, so a name, a PIN, a code or card data logged by mistake never
// reaches the screen.
package logring

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Redacted replaces the value of an attribute whose key is not allowed.
const Redacted = "[redacted]"

// maxValue bounds the length of a kept value (an error's text).
const maxValue = 300

// safeKeys are the attribute keys whose values the screen may show: the
// last part of a grouped key ("link.err" -> "err") is what is checked.
var safeKeys = map[string]bool{
	"err": true, "error": true, "device": true, "seq": true, "outbox": true, "tenant": true,
	"status": true, "state": true, "version": true, "stream": true, "count": true, "records": true,
	"depth": true, "queue_depth": true, "retry_in": true, "dur": true, "duration": true, "elapsed": true,
	"took": true, "in_a_row": true, "field": true, "driver": true, "bus": true, "chip": true,
	"phase": true, "sent": true, "total": true, "attempt": true, "listen": true, "ui": true,
	"store": true, "topic": true, "broker": true, "brokers": true, "not_after": true, "key_file": true,
	"path": true, "method": true, "line": true, "display": true, "reader": true, "hardware": true,
	"scheme": true, "result": true, "peripheral": true, "job": true, "level": true, "event": true,
	"payment": true, "activation": true, "id": true, "role": true, "site": true, "reason": true, "command": true,
	"why": true, "outcome": true,
}

// Safe reports whether an attribute's key is on the allow-list.
func Safe(key string) bool {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		key = key[i+1:]
	}
	return safeKeys[key]
}

// Record is a kept log record, redacted.
type Record struct {
	Time  time.Time         `json:"time"`
	Level string            `json:"level"`
	Msg   string            `json:"msg"`
	Attrs map[string]string `json:"attrs,omitempty"`

	level slog.Level
}

// Ring holds the last records. Its zero value is unusable: use New.
type Ring struct {
	mu   sync.Mutex
	buf  []Record
	next int
	full bool
}

// New returns a ring of the last n records (at least 1).
func New(n int) *Ring {
	if n < 1 {
		n = 1
	}
	return &Ring{buf: make([]Record, n)}
}

func (r *Ring) add(rec Record) {
	r.mu.Lock()
	r.buf[r.next] = rec
	r.next++
	if r.next == len(r.buf) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// Records returns the kept records at min or above, oldest first.
func (r *Ring) Records(min slog.Level) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []Record
	if r.full {
		all = append(all, r.buf[r.next:]...)
	}
	all = append(all, r.buf[:r.next]...)
	out := all[:0:0]
	for _, rec := range all {
		if rec.level >= min {
			out = append(out, rec)
		}
	}
	return out
}

// Handler returns a handler that passes records to next and keeps a
// redacted copy of those next takes (its level decides for both).
func (r *Ring) Handler(next slog.Handler) slog.Handler {
	return &handler{ring: r, next: next}
}

// Of returns the ring that h keeps records in, or nil when h is not a
// ring's handler: a program that installs the ring itself (so that the
// default logger feeds it too) hands the logger on, and the daemon finds
// its ring there.
func Of(h slog.Handler) *Ring {
	if rh, ok := h.(*handler); ok {
		return rh.ring
	}
	return nil
}

type handler struct {
	ring  *Ring
	next  slog.Handler
	group string            // prefix of keys, "a.b."
	attrs map[string]string // never changed once made: children copy it
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	kept := Record{Time: rec.Time, Level: rec.Level.String(), Msg: rec.Message, level: rec.Level}
	if len(h.attrs) > 0 || rec.NumAttrs() > 0 {
		kept.Attrs = make(map[string]string, len(h.attrs)+rec.NumAttrs())
		for k, v := range h.attrs {
			kept.Attrs[k] = v
		}
		rec.Attrs(func(a slog.Attr) bool {
			flatten(kept.Attrs, h.group, a)
			return true
		})
	}
	h.ring.add(kept)
	return h.next.Handle(ctx, rec)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	m := make(map[string]string, len(h.attrs)+len(as))
	for k, v := range h.attrs {
		m[k] = v
	}
	for _, a := range as {
		flatten(m, h.group, a)
	}
	return &handler{ring: h.ring, next: h.next.WithAttrs(as), group: h.group, attrs: m}
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{ring: h.ring, next: h.next.WithGroup(name), group: h.group + name + ".", attrs: h.attrs}
}

// flatten adds a to m under prefix, redacted unless its key is safe.
func flatten(m map[string]string, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			flatten(m, p, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	key := prefix + a.Key
	if !Safe(key) {
		m[key] = Redacted
		return
	}
	s := v.String()
	if len(s) > maxValue {
		s = strings.ToValidUTF8(s[:maxValue], "") + "…"
	}
	m[key] = s
}
