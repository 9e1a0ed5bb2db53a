// Package tamper handles the appliance's tamper switch. When the case is
// opened the switch writes an entry in the audit log (no personal data:
// the step, the outcome and the opening's number), sends an event of type
// "device.tamper" upstream through the outbox and, under the lock policy,
// locks the till's refunds and voids and the e-ID counter's activations
// until a technician clears it with their own PIN.
//
// The state lives in the store's settings table and is written in the
// commit of its event, so that a lock is on disk exactly when its event
// is queued, and a restart neither unlocks the till nor sends another
// event for the same opening (the event's key is the opening's number).
package tamper

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/sync/outbox"
)

// RecordType is the outbox record type of the events sent upstream.
const RecordType = "device.tamper"

// settingKey is the state's row in the settings table.
const settingKey = "tamper.state"

// Policy says what an opening does besides the audit entry and the event.
type Policy string

// Policies.
const (
	// Lock locks refunds, voids and e-ID activations until a technician
	// clears it: the default.
	Lock Policy = "lock"
	// Alert only audits and reports.
	Alert Policy = "alert"
)

// ParsePolicy checks a policy's name; empty is Lock.
func ParsePolicy(s string) (Policy, error) {
	switch Policy(s) {
	case "", Lock:
		return Lock, nil
	case Alert:
		return Alert, nil
	}
	return "", fmt.Errorf("tamper: unknown policy %q (want lock or alert)", s)
}

// Errors.
var (
	// ErrLocked is returned by Check, and so by the flows it guards,
	// while the appliance is locked.
	ErrLocked = errors.New("the till is locked after the tamper switch opened: a technician must clear it")
	// ErrNotTechnician is the error of a valid PIN of someone who is not
	// a technician.
	ErrNotTechnician = errors.New("tamper: a technician's PIN is needed")
	// ErrNotLocked is returned by Clear when there is nothing to clear.
	ErrNotLocked = errors.New("tamper: not locked")
)

// State is the switch's persisted state, as status shows it.
type State struct {
	// Policy is the configured policy.
	Policy Policy `json:"policy"`
	// Openings counts the openings seen; the last one's number keys its
	// event.
	Openings uint64 `json:"openings"`
	// Open says the switch was last seen open.
	Open bool `json:"open"`
	// Locked says refunds, voids and e-ID activations are refused.
	Locked bool `json:"locked"`
	// OpenedAt is when the last opening was seen.
	OpenedAt *time.Time `json:"opened_at,omitempty"`
	// ClearedAt and ClearedBy are the last clearing and the technician's
	// id.
	ClearedAt *time.Time `json:"cleared_at,omitempty"`
	ClearedBy string     `json:"cleared_by,omitempty"`
}

// Event is the body of a device.tamper record.
type Event struct {
	Action  string    `json:"action"` // "opened" or "cleared"
	Opening uint64    `json:"opening"`
	At      time.Time `json:"at"`
	Locked  bool      `json:"locked"`
	// By is the technician who cleared the lock.
	By string `json:"by,omitempty"`
}

// Store is what the switch needs of the appliance's store (*outbox.Store).
type Store interface {
	Append(ctx context.Context, r outbox.Record) (outbox.Entry, error)
	Update(ctx context.Context, fn func(tx *sql.Tx) error) error
	Setting(ctx context.Context, key string) ([]byte, error)
}

// Audit appends entries to the audit log (*audit.Log).
type Audit interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
}

// Staff checks a PIN (*staff.Staff).
type Staff interface {
	Check(ctx context.Context, id, pin string) (staff.Person, error)
}

// Config is what Open needs.
type Config struct {
	Store  Store
	Audit  Audit
	Staff  Staff
	Policy Policy
	Log    *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnChange is told of every new state, outside the switch's lock
	// (the daemon drives the red LED with it).
	OnChange func(State)
}

// Switch is the tamper switch's flow. Its methods are safe for
// concurrent use.
type Switch struct {
	cfg Config

	mu sync.Mutex
	st State
}

// Open loads the persisted state.
func Open(ctx context.Context, cfg Config) (*Switch, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	p, err := ParsePolicy(string(cfg.Policy))
	if err != nil {
		return nil, err
	}
	cfg.Policy = p
	s := &Switch{cfg: cfg}
	b, err := cfg.Store.Setting(ctx, settingKey)
	if err != nil {
		return nil, fmt.Errorf("tamper: open: %w", err)
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &s.st); err != nil {
			return nil, fmt.Errorf("tamper: open: stored state: %w", err)
		}
	}
	s.st.Policy = p
	return s, nil
}

// State returns the current state.
func (s *Switch) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Check returns ErrLocked while the appliance is locked, nil otherwise:
// the checkout calls it before a refund or a void, the e-ID counter before
// an activation.
func (s *Switch) Check() error {
	if s.State().Locked {
		return ErrLocked
	}
	return nil
}

// Changed tells the switch the line's new level (true: the case is open).
// An opening while the switch is already recorded open (the same opening
// seen again after a restart) does nothing.
func (s *Switch) Changed(ctx context.Context, open bool) error {
	s.mu.Lock()
	if open == s.st.Open {
		s.mu.Unlock()
		return nil
	}
	next := s.st
	next.Open = open
	var err error
	if open {
		now := s.cfg.Now().UTC()
		next.Openings++
		next.OpenedAt = &now
		next.Locked = next.Locked || s.cfg.Policy == Lock
		_, err = s.cfg.Store.Append(ctx, s.event(Event{Action: "opened", Opening: next.Openings, At: now, Locked: next.Locked}, next))
	} else {
		// Closing the case is only noted: the lock stays until cleared.
		err = s.cfg.Store.Update(ctx, write(next))
	}
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("tamper: record the switch (open %t): %w", open, err)
	}
	s.st = next
	s.mu.Unlock()
	if open {
		s.cfg.Log.Error("tamper switch opened", "opening", next.Openings, "locked", next.Locked, "policy", s.cfg.Policy)
		s.audit(ctx, audit.Entry{Step: "tamper", Outcome: "opened", Reason: reason(next)})
	} else {
		s.cfg.Log.Warn("tamper switch closed", "locked", next.Locked)
		s.audit(ctx, audit.Entry{Step: "tamper", Outcome: "closed"})
	}
	s.changed(next)
	return nil
}

func reason(st State) string {
	if st.Locked {
		return "locked"
	}
	return "alert"
}

// Clear checks a technician's PIN and lifts the lock. A cashier's, a
// supervisor's or anyone else's right PIN is refused with
// ErrNotTechnician; a wrong one counts towards the account's lock-out.
func (s *Switch) Clear(ctx context.Context, technician, pin string) (State, error) {
	p, err := s.cfg.Staff.Check(ctx, technician, pin)
	who := technician
	if !staffID(who) {
		who = ""
	}
	if err == nil && p.Role != staff.Technician {
		err = ErrNotTechnician
	}
	if err != nil {
		s.audit(ctx, audit.Entry{Official: who, Step: "tamper_clear", Outcome: "refused"})
		s.cfg.Log.Warn("tamper clear refused", "by", who, "err", err)
		return s.State(), err
	}
	s.mu.Lock()
	if !s.st.Locked {
		s.mu.Unlock()
		return s.State(), ErrNotLocked
	}
	next := s.st
	now := s.cfg.Now().UTC()
	next.Locked, next.ClearedAt, next.ClearedBy = false, &now, p.ID
	rec := s.event(Event{Action: "cleared", Opening: next.Openings, At: now, By: p.ID}, next)
	if _, err := s.cfg.Store.Append(ctx, rec); err != nil {
		s.mu.Unlock()
		return s.State(), fmt.Errorf("tamper: record clearing: %w", err)
	}
	s.st = next
	s.mu.Unlock()
	s.cfg.Log.Warn("tamper lock cleared", "by", p.ID, "opening", next.Openings)
	s.audit(ctx, audit.Entry{Official: p.ID, Step: "tamper_clear", Outcome: "ok"})
	s.changed(next)
	return next, nil
}

// event is the record of ev, which also writes st in its commit. Its key
// is the opening's number, so that the same opening is one event however
// often it is appended.
func (s *Switch) event(ev Event, st State) outbox.Record {
	b, _ := json.Marshal(ev)
	return outbox.Record{Key: "tamper-" + ev.Action + "-" + strconv.FormatUint(ev.Opening, 10),
		Type: RecordType, Schema: 1, Body: b, Write: write(st)}
}

// write writes st in a transaction.
func write(st State) func(tx *sql.Tx) error {
	b, _ := json.Marshal(st)
	return func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO settings(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v=excluded.v`, settingKey, b)
		return err
	}
}

func (s *Switch) audit(ctx context.Context, e audit.Entry) {
	if s.cfg.Audit == nil {
		return
	}
	if _, err := s.cfg.Audit.Append(ctx, e); err != nil {
		s.cfg.Log.Error("audit append failed", "step", e.Step, "err", err)
	}
}

func (s *Switch) changed(st State) {
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(st)
	}
}

// Watcher reports a line's changes: the GPIO drivers that can (cdev, sim).
type Watcher interface {
	Watch(ctx context.Context, line string, fn func(on bool)) error
}

// Reader reads a line's level.
type Reader interface {
	Get(name string) (bool, error)
}

// Watch follows the switch on line until ctx ends. The level at start is
// taken first, so that a case opened while the appliance was off counts.
func (s *Switch) Watch(ctx context.Context, lines Watcher, line string) error {
	if r, ok := lines.(Reader); ok {
		if open, err := r.Get(line); err == nil {
			if err := s.Changed(ctx, open); err != nil {
				s.cfg.Log.Error("tamper", "err", err)
			}
		}
	}
	return lines.Watch(ctx, line, func(open bool) {
		if err := s.Changed(ctx, open); err != nil {
			s.cfg.Log.Error("tamper", "err", err)
		}
	})
}

func staffID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
