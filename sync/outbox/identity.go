package outbox

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/guichet/guichet/sync/envelope"
)

// ErrDamaged is returned by Open for a store whose counters (the meta
// table) are missing, malformed or disagree with the queue. The store is
// not opened: numbering records again from a wrong counter would have the
// platform take new payments for ones it has, and the device forget them.
// The error names what is wrong; docs/architecture.md ("The store") says
// what to do.
var ErrDamaged = errors.New("outbox: store damaged")

// migrationIdentity (step 4) gives the store its outbox identity and the
// tables of rejected and skipped records.
//
// A new store gets a random identity. A store of an earlier release that
// has numbered records already keeps the zero identity: its waiting
// records were signed without one, and the platform expects them, and
// the ones that follow them in the chain, in its release-1 stream. Such a
// store moves to a random identity of its own as soon as its queue is
// empty (at Open, or at the ack that empties it), which costs no
// renumbering, or at a Rekey.
var migrationIdentity = migration{
	sql: `CREATE TABLE rejections (
		outbox TEXT NOT NULL,         -- hex identity, '' for the release-1 stream
		seq INTEGER NOT NULL,
		reason TEXT NOT NULL,
		code TEXT NOT NULL DEFAULT '',
		at INTEGER NOT NULL,
		PRIMARY KEY (outbox, seq)
	) WITHOUT ROWID;
	CREATE TABLE skipped (
		outbox TEXT NOT NULL,
		seq INTEGER NOT NULL,
		key TEXT NOT NULL,
		type TEXT NOT NULL,
		frame BLOB NOT NULL,
		reason TEXT NOT NULL,
		command TEXT NOT NULL DEFAULT '',
		at INTEGER NOT NULL,
		PRIMARY KEY (outbox, seq)
	) WITHOUT ROWID;
	-- What happened to the queue itself (identity changes, rejections,
	-- skips), for the technician: 'guichet audit' covers the e-ID log.
	CREATE TABLE outbox_audit (
		n INTEGER PRIMARY KEY,
		at INTEGER NOT NULL,
		event TEXT NOT NULL,
		outbox TEXT NOT NULL,
		seq INTEGER NOT NULL DEFAULT 0,
		detail TEXT NOT NULL DEFAULT ''
	);`,
	fn: func(tx *sql.Tx) error {
		var history int
		if err := tx.QueryRow(`SELECT EXISTS(SELECT 1 FROM meta WHERE k='last_seq') OR EXISTS(SELECT 1 FROM outbox)`).Scan(&history); err != nil {
			return err
		}
		var id envelope.OutboxID
		if history == 0 {
			var err error
			if id, err = envelope.NewOutboxID(); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`INSERT INTO meta(k,v) VALUES('outbox_id',?)`, id[:])
		return err
	},
}

// meta is the store's counters as read and checked at Open.
type meta struct {
	id      envelope.OutboxID
	lastSeq uint64
	acked   uint64
	boot    uint64
	hash    envelope.Hash
	blocked uint64
}

// readMeta reads the counters and checks them against the queue: every
// row is the right size, acked <= last_seq, and the waiting records are
// exactly acked+1 .. last_seq. It fails with ErrDamaged naming the row.
func readMeta(tx *sql.Tx) (meta, error) {
	var m meta
	rows, err := tx.Query(`SELECT k, v FROM meta`)
	if err != nil {
		return m, err
	}
	vals := map[string][]byte{}
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return m, err
		}
		vals[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return m, err
	}
	damaged := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrDamaged, fmt.Sprintf(format, a...))
	}
	u := func(k string) (uint64, bool, error) {
		v, ok := vals[k]
		if !ok {
			return 0, false, nil
		}
		if len(v) != 8 {
			return 0, true, damaged("meta row %q holds %d bytes, want 8", k, len(v))
		}
		return binary.BigEndian.Uint64(v), true, nil
	}
	id, ok := vals["outbox_id"]
	if !ok || len(id) != len(m.id) {
		return m, damaged("meta row \"outbox_id\" missing or not %d bytes (%d)", len(m.id), len(id))
	}
	copy(m.id[:], id)
	var hasLast, hasAcked bool
	if m.lastSeq, hasLast, err = u("last_seq"); err != nil {
		return m, err
	}
	if m.acked, hasAcked, err = u("acked"); err != nil {
		return m, err
	}
	if m.boot, _, err = u("boot"); err != nil {
		return m, err
	}
	if h, ok := vals["last_hash"]; ok {
		if len(h) != len(m.hash) {
			return m, damaged("meta row \"last_hash\" holds %d bytes, want %d", len(h), len(m.hash))
		}
		copy(m.hash[:], h)
	} else if m.lastSeq > 0 {
		return m, damaged("meta row \"last_hash\" missing with last_seq %d: the chain cannot continue", m.lastSeq)
	}
	if hasAcked && !hasLast {
		return m, damaged("meta row \"last_seq\" missing, \"acked\" is %d", m.acked)
	}
	if m.acked > m.lastSeq {
		return m, damaged("acked %d is beyond last_seq %d", m.acked, m.lastSeq)
	}
	var n, lo, hi uint64
	if err := tx.QueryRow(`SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM outbox`).Scan(&n, &lo, &hi); err != nil {
		return m, err
	}
	if n > 0 && (lo <= m.acked || hi > m.lastSeq) {
		return m, damaged("the queue holds records %d..%d, the counters say %d..%d (acked %d, last_seq %d)", lo, hi, m.acked+1, m.lastSeq, m.acked, m.lastSeq)
	}
	if n != m.lastSeq-m.acked {
		return m, damaged("the queue holds %d records, the counters say %d (acked %d, last_seq %d)", n, m.lastSeq-m.acked, m.acked, m.lastSeq)
	}
	if err := tx.QueryRow(`SELECT count(*) FROM rejections WHERE outbox=?`, m.id.String()).Scan(&m.blocked); err != nil {
		return m, err
	}
	return m, nil
}

// Identity returns the outbox identity the store numbers its records in.
func (s *Store) Identity() envelope.OutboxID { return *s.outboxID.Load() }

// control runs fn alone in a transaction on the committer; after, if not
// nil, runs once fn's writes are committed, to update what the store
// keeps in memory.
func (s *Store) control(ctx context.Context, fn func(tx *sql.Tx) (after func(), err error)) error {
	return s.submit(ctx, &request{ctl: fn, done: make(chan struct{})})
}

// runControl commits one control request; on the committer's goroutine.
func (s *Store) runControl(req *request) {
	err := func() error {
		tx, err := s.w.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		after, err := req.ctl(tx)
		if err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("outbox: commit: %w", err)
		}
		if after != nil {
			after()
		}
		return nil
	}()
	req.err = err
	close(req.done)
}

// Rekey gives the waiting records a fresh outbox identity and numbers
// them again from 1, chained and signed anew, in one transaction; the
// acked counter starts again at 0. The link calls it when the platform
// answers a conflict (it holds another record under one of this store's
// numbers: the store was restored from a copy) or acks beyond the last
// record. The platform recognises by its idempotency key a waiting record
// it had applied already, and answers with the stored result; the rest
// it applies in the new stream. Rekey returns the new identity.
func (s *Store) Rekey(ctx context.Context, why string) (envelope.OutboxID, error) {
	var out envelope.OutboxID
	err := s.control(ctx, func(tx *sql.Tx) (func(), error) {
		id, err := envelope.NewOutboxID()
		if err != nil {
			return nil, err
		}
		seq, hash, err := s.renumber(tx, id)
		if err != nil {
			return nil, err
		}
		old := s.Identity()
		if err := s.audit(tx, "rekey", old, 0, fmt.Sprintf("new identity %s, %d waiting records renumbered: %s", id, seq, why)); err != nil {
			return nil, err
		}
		out = id
		return func() { s.switchTo(id, seq, hash) }, nil
	})
	return out, err
}

// renumber moves the waiting records to identity id, numbered from 1,
// and writes the counters; it returns the last seq and hash.
func (s *Store) renumber(tx *sql.Tx, id envelope.OutboxID) (uint64, envelope.Hash, error) {
	rows, err := tx.Query(`SELECT seq, frame FROM outbox ORDER BY seq`)
	if err != nil {
		return 0, envelope.Hash{}, err
	}
	type row struct {
		seq   uint64
		frame []byte
	}
	var waiting []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.seq, &r.frame); err != nil {
			rows.Close()
			return 0, envelope.Hash{}, err
		}
		waiting = append(waiting, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, envelope.Hash{}, err
	}
	var prev envelope.Hash
	var seq uint64
	for _, w := range waiting {
		payload, _, err := envelope.Split(w.frame)
		if err != nil {
			return 0, envelope.Hash{}, fmt.Errorf("record %d: %w", w.seq, err)
		}
		var rec envelope.Record
		if err := json.Unmarshal(payload, &rec); err != nil {
			return 0, envelope.Hash{}, fmt.Errorf("record %d: %w", w.seq, err)
		}
		seq++
		rec.Outbox, rec.Seq, rec.Prev = id, seq, prev
		p, err := json.Marshal(rec)
		if err != nil {
			return 0, envelope.Hash{}, err
		}
		prev = envelope.HashOf(p)
		// In seq order each row moves down to a number its earlier
		// neighbours have left: the primary key never collides.
		if _, err := tx.Exec(`UPDATE outbox SET seq=?, frame=? WHERE seq=?`, seq, envelope.Seal(s.id.Key, p), w.seq); err != nil {
			return 0, envelope.Hash{}, err
		}
	}
	if _, err := tx.Exec(`UPDATE meta SET v=? WHERE k='outbox_id'`, id[:]); err != nil {
		return 0, envelope.Hash{}, err
	}
	if err := setMeta(tx, "last_seq", seq); err != nil {
		return 0, envelope.Hash{}, err
	}
	if err := setMeta(tx, "acked", 0); err != nil {
		return 0, envelope.Hash{}, err
	}
	if _, err := tx.Exec(`INSERT INTO meta(k,v) VALUES('last_hash',?) ON CONFLICT(k) DO UPDATE SET v=excluded.v`, prev[:]); err != nil {
		return 0, envelope.Hash{}, err
	}
	return seq, prev, nil
}

// switchTo updates the store's memory after a committed renumber.
func (s *Store) switchTo(id envelope.OutboxID, seq uint64, hash envelope.Hash) {
	s.outboxID.Store(&id)
	s.lastSeq.Store(seq)
	s.acked.Store(0)
	s.lastHash = hash
	s.blocked.Store(0)
	if seq > 0 {
		s.signal()
	}
}

func (s *Store) audit(tx *sql.Tx, event string, id envelope.OutboxID, seq uint64, detail string) error {
	_, err := tx.Exec(`INSERT INTO outbox_audit(at, event, outbox, seq, detail) VALUES(?,?,?,?,?)`, time.Now().UnixMilli(), event, id.String(), seq, detail)
	return err
}

// NoteRejections keeps the records the platform rejected (other than for
// a conflict, which Rekey answers) in the rejections table, with an audit
// entry each: the queue is blocked at the first of them until a
// skip_rejected command moves past it. Rejections for another identity
// than the store's are ignored: they answer a store since replaced.
func (s *Store) NoteRejections(ctx context.Context, id envelope.OutboxID, rejects []envelope.Reject) error {
	if id != s.Identity() || len(rejects) == 0 {
		return nil
	}
	return s.control(ctx, func(tx *sql.Tx) (func(), error) {
		if id != s.Identity() {
			return nil, nil
		}
		var added uint64
		for _, r := range rejects {
			if r.Code == envelope.RejectConflict || r.Seq <= s.acked.Load() || r.Seq > s.lastSeq.Load() {
				continue
			}
			res, err := tx.Exec(`INSERT OR IGNORE INTO rejections(outbox, seq, reason, code, at) VALUES(?,?,?,?,?)`, id.String(), r.Seq, r.Reason, r.Code, time.Now().UnixMilli())
			if err != nil {
				return nil, err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				added++
				if err := s.audit(tx, "rejected", id, r.Seq, r.Code+": "+r.Reason); err != nil {
					return nil, err
				}
			}
		}
		return func() { s.blocked.Add(added) }, nil
	})
}

// Rejection is a record the platform rejected, as kept by the store.
type Rejection struct {
	Outbox envelope.OutboxID `json:"outbox"`
	Seq    uint64            `json:"seq"`
	Reason string            `json:"reason"`
	Code   string            `json:"code,omitempty"`
	At     time.Time         `json:"at"`
}

// Rejections lists the rejected records still blocking the queue (those
// of the store's identity: a rekey renumbered the others).
func (s *Store) Rejections(ctx context.Context) ([]Rejection, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT outbox, seq, reason, code, at FROM rejections WHERE outbox=? ORDER BY seq`, s.Identity().String())
	if err != nil {
		return nil, fmt.Errorf("outbox: rejections: %w", err)
	}
	defer rows.Close()
	var out []Rejection
	for rows.Next() {
		var r Rejection
		var id string
		var at int64
		if err := rows.Scan(&id, &r.Seq, &r.Reason, &r.Code, &at); err != nil {
			return nil, fmt.Errorf("outbox: rejections: %w", err)
		}
		r.Outbox, _ = envelope.ParseOutboxID(id)
		r.At = time.UnixMilli(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErrNotHead is returned by SkipRejected for a record that is not the
// first one waiting: a skip moves past the record that blocks the queue,
// never one behind it.
var ErrNotHead = errors.New("outbox: only the first waiting record can be skipped")

// SkipRejected moves past the waiting record seq of outbox id, which the
// platform rejected: the record leaves the queue for the skipped table,
// with an audit entry naming the reason and the command that asked, and
// the next record is sent. Skipping a record already skipped does
// nothing. The platform, which sent the command, has advanced its own
// sequence over the record.
func (s *Store) SkipRejected(ctx context.Context, id envelope.OutboxID, seq uint64, reason, command string) error {
	return s.control(ctx, func(tx *sql.Tx) (func(), error) {
		var done int
		if err := tx.QueryRow(`SELECT EXISTS(SELECT 1 FROM skipped WHERE outbox=? AND seq=?)`, id.String(), seq).Scan(&done); err != nil {
			return nil, err
		}
		if done == 1 {
			return nil, nil
		}
		if id != s.Identity() {
			return nil, fmt.Errorf("outbox: skip %s/%d: the store's identity is %s", id, seq, s.Identity())
		}
		acked := s.acked.Load()
		if seq != acked+1 || seq > s.lastSeq.Load() {
			return nil, fmt.Errorf("%w: skip %d, first waiting %d", ErrNotHead, seq, acked+1)
		}
		res, err := tx.Exec(`INSERT INTO skipped(outbox, seq, key, type, frame, reason, command, at)
			SELECT ?, seq, key, type, frame, ?, ?, ? FROM outbox WHERE seq=?`, id.String(), reason, command, time.Now().UnixMilli(), seq)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, fmt.Errorf("outbox: skip %d: record not in the queue", seq)
		}
		if _, err := tx.Exec(`DELETE FROM outbox WHERE seq=?`, seq); err != nil {
			return nil, err
		}
		if err := setMeta(tx, "acked", seq); err != nil {
			return nil, err
		}
		del, err := tx.Exec(`DELETE FROM rejections WHERE outbox=? AND seq=?`, id.String(), seq)
		if err != nil {
			return nil, err
		}
		wasRejected, _ := del.RowsAffected()
		detail := fmt.Sprintf("skipped (command %q, rejected here: %v): %s", command, wasRejected == 1, reason)
		if err := s.audit(tx, "skip", id, seq, detail); err != nil {
			return nil, err
		}
		return func() {
			s.acked.Store(seq)
			if wasRejected == 1 {
				s.blocked.Add(^uint64(0))
			}
			s.signal()
		}, nil
	})
}

// AuditEntry is one line of the queue's own audit trail.
type AuditEntry struct {
	At     time.Time         `json:"at"`
	Event  string            `json:"event"` // rekey, rejected, skip, identity
	Outbox envelope.OutboxID `json:"outbox"`
	Seq    uint64            `json:"seq,omitempty"`
	Detail string            `json:"detail"`
}

// Audit returns the queue's audit trail, oldest first.
func (s *Store) Audit(ctx context.Context) ([]AuditEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT at, event, outbox, seq, detail FROM outbox_audit ORDER BY n`)
	if err != nil {
		return nil, fmt.Errorf("outbox: audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		var id string
		if err := rows.Scan(&at, &e.Event, &id, &e.Seq, &e.Detail); err != nil {
			return nil, fmt.Errorf("outbox: audit: %w", err)
		}
		e.At, e.Outbox = time.UnixMilli(at), idOf(id)
		out = append(out, e)
	}
	return out, rows.Err()
}

func idOf(s string) envelope.OutboxID {
	id, _ := envelope.ParseOutboxID(s)
	return id
}

// leaveLegacy gives a release-1 store with an empty queue an identity of
// its own, in tx; the returned func updates the store's memory once tx is
// committed.
func (s *Store) leaveLegacy(tx *sql.Tx) (func(), error) {
	id, err := envelope.NewOutboxID()
	if err != nil {
		return nil, err
	}
	seq, hash, err := s.renumber(tx, id)
	if err != nil {
		return nil, err
	}
	if err := s.audit(tx, "identity", id, 0, "release-1 store, queue empty: numbering starts again at 1 under its own identity"); err != nil {
		return nil, err
	}
	return func() { s.switchTo(id, seq, hash) }, nil
}

// leaveLegacyNow runs leaveLegacy in a transaction of its own, on the
// committer.
func (s *Store) leaveLegacyNow() error {
	tx, err := s.w.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	after, err := s.leaveLegacy(tx)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	after()
	return nil
}
