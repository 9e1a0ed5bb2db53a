// Package staff keeps the till's people: cashiers, who sign in to take
// payments, and supervisors, whose PIN a refund, a void or closing the day
// needs besides the cashier's session, and technicians, whose PIN clears
// the lock the tamper switch sets. Each has an account of their own
// with a PIN hashed by package pin; wrong PINs in a row lock the account
// until a supervisor or the technician resets it. The accounts live in the
// appliance's store, in the staff table.
package staff

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/guichet/guichet/staff/pin"
)

// Role is what a person may do at the till.
type Role string

// Roles.
const (
	// Cashier takes payments, prints receipts, splits bills.
	Cashier Role = "cashier"
	// Supervisor also authorises refunds, voids and closing the day, and
	// resets a cashier's PIN.
	Supervisor Role = "supervisor"
	// Technician services the appliance: only their PIN clears the lock
	// the tamper switch sets (package tamper).
	Technician Role = "technician"
)

// DefaultLockAfter is how many wrong PINs in a row lock an account.
const DefaultLockAfter = 5

// Errors.
var (
	ErrBadPIN  = errors.New("staff: wrong id or PIN")
	ErrLocked  = errors.New("staff: this account is locked after too many wrong PINs: a supervisor or the technician must reset the PIN")
	ErrID      = errors.New("staff: an id is 1-64 characters of letters, digits, '.', '_' or '-'")
	ErrShared  = errors.New("staff: an account is one person's own: no shared or generic account (admin, cashier, till...)")
	ErrRole    = errors.New("staff: the role is cashier, supervisor or technician")
	ErrName    = errors.New("staff: a display name has 1 to 64 characters, no control characters")
	ErrExists  = errors.New("staff: an account with this id exists")
	ErrUnknown = errors.New("staff: no such account")
	// ErrNotSupervisor is the error of a cashier's PIN where a
	// supervisor's is needed.
	ErrNotSupervisor = errors.New("staff: a supervisor's PIN is needed")
)

// Person is an account as the till shows it: never its PIN or hash.
type Person struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Failures int       `json:"failures,omitempty"`
	Locked   bool      `json:"locked,omitempty"`
	Created  time.Time `json:"created"`
}

// Store is what Staff needs of the appliance's store (*outbox.Store).
type Store interface {
	Update(ctx context.Context, fn func(tx *sql.Tx) error) error
	Reader() *sql.DB
}

// Staff holds the accounts.
type Staff struct {
	Store Store
	// Iterations is the PBKDF2 work factor of new hashes (default
	// pin.DefaultIterations); stored hashes keep their own.
	Iterations int
	// LockAfter is how many wrong PINs in a row lock an account (default
	// DefaultLockAfter).
	LockAfter int

	mu sync.Mutex // read-modify-write of a record
}

func (s *Staff) lockAfter() int {
	if s.LockAfter > 0 {
		return s.LockAfter
	}
	return DefaultLockAfter
}

// Add enrols a person with their PIN.
func (s *Staff) Add(ctx context.Context, id, name string, role Role, p string) error {
	if err := checkAccount(id, name, role); err != nil {
		return err
	}
	h, err := pin.New(p, s.Iterations)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.Store.Update(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(`INSERT INTO staff(id, name, role, salt, hash, iterations, created) VALUES(?,?,?,?,?,?,?)
			ON CONFLICT(id) DO NOTHING`, id, name, string(role), h.Salt, h.Key, h.Iterations, time.Now().UnixMilli())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrExists
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("staff: add %s: %w", id, err)
	}
	return err
}

// Reset gives id a new PIN and unlocks the account.
func (s *Staff) Reset(ctx context.Context, id, p string) error {
	h, err := pin.New(p, s.Iterations)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exec(ctx, id, `UPDATE staff SET salt=?, hash=?, iterations=?, failures=0, locked=0 WHERE id=?`, h.Salt, h.Key, h.Iterations, id)
}

// Remove deletes the account of id.
func (s *Staff) Remove(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exec(ctx, id, `DELETE FROM staff WHERE id=?`, id)
}

func (s *Staff) exec(ctx context.Context, id, q string, args ...any) error {
	err := s.Store.Update(ctx, func(tx *sql.Tx) error {
		res, err := tx.Exec(q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrUnknown
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrUnknown) {
		return fmt.Errorf("staff: %s: %w", id, err)
	}
	return err
}

// List returns the accounts in id order.
func (s *Staff) List(ctx context.Context) ([]Person, error) {
	rows, err := s.Store.Reader().QueryContext(ctx, `SELECT id, name, role, failures, locked, created FROM staff ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("staff: list: %w", err)
	}
	defer rows.Close()
	var out []Person
	for rows.Next() {
		var p Person
		var created int64
		if err := rows.Scan(&p.ID, &p.Name, &p.Role, &p.Failures, &p.Locked, &created); err != nil {
			return nil, fmt.Errorf("staff: list: %w", err)
		}
		p.Created = time.UnixMilli(created)
		out = append(out, p)
	}
	return out, rows.Err()
}

// Check verifies the PIN of id, counts a wrong one and locks the account
// after LockAfter of them in a row. A locked account refuses even the
// right PIN.
func (s *Staff) Check(ctx context.Context, id, p string) (Person, error) {
	if !validID(id) {
		pin.Waste(p, s.Iterations)
		return Person{}, ErrBadPIN
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var per Person
	var h pin.Hash
	var created int64
	err := s.Store.Reader().QueryRowContext(ctx, `SELECT id, name, role, failures, locked, created, salt, hash, iterations FROM staff WHERE id = ?`, id).
		Scan(&per.ID, &per.Name, &per.Role, &per.Failures, &per.Locked, &created, &h.Salt, &h.Key, &h.Iterations)
	if errors.Is(err, sql.ErrNoRows) {
		pin.Waste(p, s.Iterations)
		return Person{}, ErrBadPIN
	}
	if err != nil {
		return Person{}, fmt.Errorf("staff: %s: %w", id, err)
	}
	per.Created = time.UnixMilli(created)
	if per.Locked {
		return Person{}, ErrLocked
	}
	ok, err := h.Match(p)
	if err != nil {
		return Person{}, fmt.Errorf("staff: %s: %w", id, err)
	}
	if ok {
		if per.Failures != 0 {
			per.Failures = 0
			if err := s.exec(ctx, id, `UPDATE staff SET failures=0 WHERE id=?`, id); err != nil {
				return Person{}, err
			}
		}
		return per, nil
	}
	per.Failures++
	per.Locked = per.Failures >= s.lockAfter()
	if err := s.exec(ctx, id, `UPDATE staff SET failures=?, locked=? WHERE id=?`, per.Failures, per.Locked, id); err != nil {
		return Person{}, err
	}
	if per.Locked {
		return Person{}, ErrLocked
	}
	return Person{}, ErrBadPIN
}

// Supervisor checks a supervisor's PIN, as Check does, and refuses a
// cashier's (a cashier's right PIN does not count as a failure).
func (s *Staff) Supervisor(ctx context.Context, id, p string) (Person, error) {
	per, err := s.Check(ctx, id, p)
	if err != nil {
		return Person{}, err
	}
	if per.Role != Supervisor {
		return Person{}, ErrNotSupervisor
	}
	return per, nil
}

// genericIDs are the ids of generic accounts, refused so that every
// payment, refund and void names one person.
var genericIDs = map[string]bool{"admin": true, "administrator": true, "root": true, "shared": true, "cashier": true,
	"supervisor": true, "technician": true, "till": true, "guest": true, "user": true, "test": true, "default": true, "staff": true, "manager": true}

func checkAccount(id, name string, role Role) error {
	if !validID(id) {
		return ErrID
	}
	if genericIDs[strings.ToLower(id)] {
		return ErrShared
	}
	if role != Cashier && role != Supervisor && role != Technician {
		return ErrRole
	}
	if name == "" || len(name) > 64*4 || len([]rune(name)) > 64 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return ErrName
	}
	return nil
}

func validID(s string) bool {
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
