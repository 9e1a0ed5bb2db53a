package counter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/guichet/guichet/staff/pin"
)

// DefaultIterations is the PBKDF2-HMAC-SHA256 work factor of a new PIN
// hash: the one of every PIN on the appliance (package staff/pin).
const DefaultIterations = pin.DefaultIterations

// DefaultLockAfter is how many wrong PINs in a row lock an official out.
const DefaultLockAfter = 5

// Errors of sign-in.
var (
	ErrBadPIN   = errors.New("counter: wrong official id or PIN")
	ErrLocked   = errors.New("counter: this official is locked out after too many wrong PINs: a technician must reset the PIN")
	ErrWeakPIN  = errors.New("counter: a PIN has 6 to 64 characters")
	ErrShared   = errors.New("counter: an account is one official's own: no shared or generic account (admin, counter, guest...)")
	ErrOfficial = errors.New("counter: an official id is 1-64 characters of letters, digits, '.', '_', ':' or '-'")
)

// official is the stored record of one official: a salted slow hash of the
// PIN, never the PIN, and the run of failures.
type official struct {
	Salt       []byte
	Hash       []byte
	Iterations int
	Failures   int
	Locked     bool
}

// Officials holds the officials' PINs in the store's officials table. Every
// official has an account of their own: there is no shared one.
type Officials struct {
	Store Store
	// Iterations is the PBKDF2 work factor for new hashes (default
	// DefaultIterations); stored hashes keep their own.
	Iterations int
	// LockAfter is how many wrong PINs in a row lock the account
	// (default DefaultLockAfter).
	LockAfter int

	mu sync.Mutex // read-modify-write of a record
}

func (o *Officials) iterations() int {
	if o.Iterations > 0 {
		return o.Iterations
	}
	return DefaultIterations
}

func (o *Officials) lockAfter() int {
	if o.LockAfter > 0 {
		return o.LockAfter
	}
	return DefaultLockAfter
}

// SetPIN enrols official id with pin, or resets the PIN of a locked-out
// official. It is the technician's job, not the counter's.
func (o *Officials) SetPIN(ctx context.Context, id, p string) error {
	if !validID(id) {
		return ErrOfficial
	}
	if genericIDs[strings.ToLower(id)] {
		return ErrShared
	}
	if pin.Check(p) != nil {
		return ErrWeakPIN
	}
	h, err := pin.New(p, o.iterations())
	if err != nil {
		return fmt.Errorf("counter: PIN hash: %w", err)
	}
	rec := official{Salt: h.Salt, Hash: h.Key, Iterations: h.Iterations}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.put(ctx, id, rec)
}

func (o *Officials) put(ctx context.Context, id string, rec official) error {
	err := o.Store.Update(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO officials(id, salt, hash, iterations, failures, locked) VALUES(?,?,?,?,?,?)
			ON CONFLICT(id) DO UPDATE SET salt=excluded.salt, hash=excluded.hash, iterations=excluded.iterations,
				failures=excluded.failures, locked=excluded.locked`,
			id, rec.Salt, rec.Hash, rec.Iterations, rec.Failures, rec.Locked)
		return err
	})
	if err != nil {
		return fmt.Errorf("counter: official %s: %w", id, err)
	}
	return nil
}

// Check verifies pin for official id, counts failures and locks the
// account after LockAfter of them in a row. A locked account refuses even
// the right PIN.
func (o *Officials) Check(ctx context.Context, id, p string) error {
	if !validID(id) {
		return ErrBadPIN
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var rec official
	err := o.Store.Reader().QueryRowContext(ctx, `SELECT salt, hash, iterations, failures, locked FROM officials WHERE id = ?`, id).
		Scan(&rec.Salt, &rec.Hash, &rec.Iterations, &rec.Failures, &rec.Locked)
	if errors.Is(err, sql.ErrNoRows) {
		// Spend the same time as for a known official, so that timing
		// does not tell which ids exist.
		pin.Waste(p, o.iterations())
		return ErrBadPIN
	}
	if err != nil {
		return fmt.Errorf("counter: official: %w", err)
	}
	if rec.Iterations <= 0 || rec.Iterations > pin.MaxIterations {
		return fmt.Errorf("counter: official %s: bad stored record", id)
	}
	if rec.Locked {
		return ErrLocked
	}
	ok, err := pin.Hash{Salt: rec.Salt, Key: rec.Hash, Iterations: rec.Iterations}.Match(p)
	if err != nil {
		return fmt.Errorf("counter: official %s: %w", id, err)
	}
	if ok {
		if rec.Failures != 0 {
			rec.Failures = 0
			return o.put(ctx, id, rec)
		}
		return nil
	}
	rec.Failures++
	rec.Locked = rec.Failures >= o.lockAfter()
	if err := o.put(ctx, id, rec); err != nil {
		return err
	}
	if rec.Locked {
		return ErrLocked
	}
	return ErrBadPIN
}

// genericIDs are the ids of generic accounts, refused so that every step
// audited names one person.
var genericIDs = map[string]bool{"admin": true, "administrator": true, "root": true, "shared": true, "counter": true,
	"guest": true, "official": true, "officials": true, "user": true, "test": true, "default": true, "desk": true}

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// Account is an official's account as the technician's screen lists it:
// the id and the run of wrong PINs, never the hash.
type Account struct {
	ID       string `json:"id"`
	Failures int    `json:"failures,omitempty"`
	Locked   bool   `json:"locked,omitempty"`
}

// List returns the officials' accounts by id.
func (o *Officials) List(ctx context.Context) ([]Account, error) {
	rows, err := o.Store.Reader().QueryContext(ctx, `SELECT id, failures, locked FROM officials ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("counter: officials: %w", err)
	}
	defer rows.Close()
	out := []Account{}
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.Failures, &a.Locked); err != nil {
			return nil, fmt.Errorf("counter: officials: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
