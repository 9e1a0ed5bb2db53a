// Package audit is the counter's append-only audit log: every step of an
// e-ID activation (sign-in, card read, face check, decision, platform
// answer) becomes an entry that carries the SHA-256 hash of the entry
// before it, so that an edited, removed or reordered entry breaks the
// chain and Verify finds it.
//
// Entries are kept in the store's audit table and, in the same commit,
// sent to the platform as records of type "audit": a local deletion
// of the last entries, which no chain can show by itself, is visible
// upstream, where the copy keeps going.
//
// Entries hold no personal data: the official's id, the step, the outcome,
// a reason code and pseudonymous ids (activation, subject) only.
package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/guichet/guichet/sync/outbox"
)

// RecordType is the outbox record type of an entry sent to the platform.
const RecordType = "audit"

// MaxEntry bounds an encoded entry.
const MaxEntry = 4096

// Hash is the SHA-256 of an encoded entry.
type Hash [sha256.Size]byte

// MarshalText writes the hash in hex.
func (h Hash) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h[:])), nil }

// UnmarshalText reads a hash in hex.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("audit: hash of %d hex digits", len(b))
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Entry is one audited step.
type Entry struct {
	// Seq numbers the entries 1, 2, 3, ... without gaps.
	Seq uint64 `json:"seq"`
	// At is the wall clock, Unix milliseconds.
	At int64 `json:"at"`
	// Log is the random id of this log, so that a log recreated from
	// nothing does not pass for the old one upstream.
	Log string `json:"log"`
	// Official is the signed-in official's id, or empty before sign-in.
	Official string `json:"official,omitempty"`
	// Step and Outcome say what happened ("signin", "failed").
	Step    string `json:"step"`
	Outcome string `json:"outcome"`
	// Reason is a code, never free text, that could carry personal data.
	Reason string `json:"reason,omitempty"`
	// Activation and Subject are pseudonymous ids.
	Activation string `json:"activation,omitempty"`
	Subject    string `json:"subject,omitempty"`
	// Score is a face match score, when the step has one.
	Score float64 `json:"score,omitempty"`
	// Prev is the hash of entry Seq-1, zero for the first.
	Prev Hash `json:"prev"`
}

// Encode returns the entry's canonical encoding, the bytes that are hashed.
func (e *Entry) Encode() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	return json.Marshal(e)
}

// HashOf hashes an encoded entry.
func HashOf(enc []byte) Hash { return sha256.Sum256(enc) }

// ErrEntry is wrapped by every decoding error.
var ErrEntry = errors.New("audit: bad entry")

// Decode parses and checks an encoded entry; unknown fields, oversized or
// trailing input and ill-formed names are refused.
func Decode(b []byte) (*Entry, error) {
	if len(b) > MaxEntry {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrEntry, len(b), MaxEntry)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var e Entry
	if err := d.Decode(&e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEntry, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrEntry)
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return &e, nil
}

func (e *Entry) check() error {
	switch {
	case e.Seq == 0:
		return fmt.Errorf("%w: seq 0", ErrEntry)
	case !validName(e.Log, false), !validName(e.Step, false), !validName(e.Outcome, false):
		return fmt.Errorf("%w: log, step and outcome must be short names", ErrEntry)
	case !validName(e.Official, true), !validName(e.Reason, true), !validName(e.Activation, true), !validName(e.Subject, true):
		return fmt.Errorf("%w: official, reason, activation and subject must be short names", ErrEntry)
	case e.Score != e.Score || e.Score < -1e6 || e.Score > 1e6:
		return fmt.Errorf("%w: score out of range", ErrEntry)
	}
	return nil
}

// validName accepts ids and codes: 1-64 bytes of [A-Za-z0-9._:-].
func validName(s string, empty bool) bool {
	if s == "" {
		return empty
	}
	if len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// Store is the part of the outbox the log uses: the entries are rows of
// its audit table (seq, entry), written in the commit of their record.
type Store interface {
	Append(ctx context.Context, r outbox.Record) (outbox.Entry, error)
	Update(ctx context.Context, fn func(tx *sql.Tx) error) error
	Source
}

// Source is where a log is read: the open store, or SourceDB of a
// read-only open of its file (outbox.OpenReadOnly).
type Source interface {
	Reader() *sql.DB
}

// SourceDB adapts a database opened with outbox.OpenReadOnly to Source.
type SourceDB struct{ DB *sql.DB }

// Reader returns the database.
func (s SourceDB) Reader() *sql.DB { return s.DB }

// Log appends entries. Its methods are safe for concurrent use.
type Log struct {
	store Store
	now   func() time.Time

	mu   sync.Mutex
	id   string
	seq  uint64
	prev Hash
}

// idKey is the log's id's row in the store's settings table.
const idKey = "audit.log"

// Open opens the log kept in store, giving it an id on first use. now is
// the clock (nil: time.Now).
func Open(ctx context.Context, store Store, now func() time.Time) (*Log, error) {
	if now == nil {
		now = time.Now
	}
	l := &Log{store: store, now: now}
	db := store.Reader()
	var id string
	err := db.QueryRowContext(ctx, `SELECT v FROM settings WHERE k = ?`, idKey).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		var b [8]byte
		rand.Read(b[:])
		err = store.Update(ctx, func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO settings(k, v) VALUES(?, ?) ON CONFLICT(k) DO NOTHING`, idKey, hex.EncodeToString(b[:]))
			return err
		})
		if err == nil {
			err = db.QueryRowContext(ctx, `SELECT v FROM settings WHERE k = ?`, idKey).Scan(&id)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	l.id = id
	// The tail: the entry with the highest seq.
	var last []byte
	err = db.QueryRowContext(ctx, `SELECT entry FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("audit: open: %w", err)
	default:
		e, err := Decode(last)
		if err != nil {
			return nil, fmt.Errorf("audit: open: last entry: %w", err)
		}
		l.seq, l.prev = e.Seq, HashOf(last)
	}
	return l, nil
}

// ID is the log's random id.
func (l *Log) ID() string { return l.id }

// Append adds e (its Seq, At, Log and Prev are set here) durably to the
// log and to the outbox, in one commit, and returns it as written.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq, e.Prev, e.Log = l.seq+1, l.prev, l.id
	e.At = l.now().UnixMilli()
	enc, err := e.Encode()
	if err != nil {
		return Entry{}, err
	}
	_, err = l.store.Append(ctx, outbox.Record{
		Key:  "audit-" + l.id + "-" + strconv.FormatUint(e.Seq, 10),
		Type: RecordType, Body: enc,
		Write: func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO audit(seq, entry) VALUES(?, ?)`, e.Seq, enc)
			return err
		},
	})
	if err != nil {
		return Entry{}, fmt.Errorf("audit: append %s: %w", e.Step, err)
	}
	l.seq, l.prev = e.Seq, HashOf(enc)
	return e, nil
}

// BreakError says where the chain breaks.
type BreakError struct {
	Seq    uint64 // the entry found broken (or expected)
	Reason string
}

// Error says where the chain breaks and why.
func (e *BreakError) Error() string {
	return fmt.Sprintf("audit: chain broken at entry %d: %s", e.Seq, e.Reason)
}

// Verify checks the whole log: every entry decodes, the sequence has no
// gap and each entry carries its predecessor's hash. It returns the
// number of entries and a *BreakError at the first fault.
func (l *Log) Verify(ctx context.Context) (int, error) { return Verify(ctx, l.store) }

// Verify checks the log kept in a store, as (*Log).Verify does, without
// opening it for appends.
func Verify(ctx context.Context, store Source) (int, error) {
	seqs, encs, err := read(ctx, store)
	if err != nil {
		return 0, fmt.Errorf("audit: verify: %w", err)
	}
	for i, seq := range seqs {
		if seq != uint64(i+1) {
			return i, &BreakError{Seq: uint64(i + 1), Reason: fmt.Sprintf("entry missing or out of place (row %d)", seq)}
		}
	}
	return len(encs), VerifyChain(encs)
}

// read returns the rows of the audit table in order.
func read(ctx context.Context, store Source) ([]uint64, [][]byte, error) {
	rows, err := store.Reader().QueryContext(ctx, `SELECT seq, entry FROM audit ORDER BY seq`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var seqs []uint64
	var encs [][]byte
	for rows.Next() {
		var seq uint64
		var enc []byte
		if err := rows.Scan(&seq, &enc); err != nil {
			return nil, nil, err
		}
		seqs, encs = append(seqs, seq), append(encs, enc)
	}
	return seqs, encs, rows.Err()
}

// VerifyChain checks a sequence of encoded entries that starts at entry
// 1, as the log holds them or as the platform received them.
func VerifyChain(encs [][]byte) error {
	var prev Hash
	var log string
	for i, enc := range encs {
		want := uint64(i + 1)
		e, err := Decode(enc)
		if err != nil {
			return &BreakError{Seq: want, Reason: err.Error()}
		}
		switch {
		case e.Seq != want:
			return &BreakError{Seq: want, Reason: fmt.Sprintf("found entry %d in its place", e.Seq)}
		case e.Prev != prev:
			return &BreakError{Seq: want, Reason: "previous entry edited, removed or reordered (hash mismatch)"}
		case i > 0 && e.Log != log:
			return &BreakError{Seq: want, Reason: "entry of another log"}
		}
		log = e.Log
		prev = HashOf(enc)
	}
	return nil
}

// Reconcile compares the local log with the platform's copy of it (the
// bodies of the audit records it received, in order from entry 1). It
// finds what no chain shows by itself: entries removed from the end of
// the local log, or a local log rewritten and re-chained from some entry
// on. Local entries not yet received upstream are fine.
func Reconcile(local, upstream [][]byte) error {
	if err := VerifyChain(upstream); err != nil {
		return fmt.Errorf("upstream copy: %w", err)
	}
	if err := VerifyChain(local); err != nil {
		return err
	}
	for i, u := range upstream {
		seq := uint64(i + 1)
		if i >= len(local) {
			return &BreakError{Seq: seq, Reason: fmt.Sprintf("entries %d to %d removed locally", seq, len(upstream))}
		}
		if !bytes.Equal(local[i], u) {
			return &BreakError{Seq: seq, Reason: "local entry differs from the copy the platform received"}
		}
	}
	return nil
}

// Entries returns the encoded entries of the log kept in store, in order.
func Entries(ctx context.Context, store Source) ([][]byte, error) {
	_, encs, err := read(ctx, store)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return encs, nil
}
