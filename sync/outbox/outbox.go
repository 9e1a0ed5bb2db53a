// Package outbox is the appliance's durable store: the queue of signed
// records waiting for the platform's ack, and beside it the flows' tables
// (payments, orders, activations, officials, settings, the audit log), in
// one SQLite database (WAL, synchronous=FULL). The schema is built by the
// numbered migrations in migrations.go, run at Open.
//
// Append returns only once the record is on disk: the screen may then say
// "done" or "queued". Concurrent callers are grouped into one transaction,
// so throughput grows with the number of writers instead of staying at one
// fsync per record; a lone writer pays one fsync. docs/decisions.md has the
// measurements behind the choice of engine.
//
// A record leaves the outbox only when the platform acks it (Ack), never
// when the broker has it.
package outbox

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the SQLite engine, in pure Go

	"github.com/guichet/guichet/sync/envelope"
)

// Identity is who signs the records.
type Identity struct {
	Tenant string
	Device string
	Key    ed25519.PrivateKey
}

// Record is what a flow asks to send to the platform.
type Record struct {
	// Key is the idempotency key of the business operation. Appending a key
	// already waiting in the outbox returns the waiting entry.
	Key    string
	Type   string
	Schema int
	// Body is the record's JSON content.
	Body []byte
	// Write, if not nil, writes the flow's rows in the transaction that
	// commits the record, so that both are on disk or neither. It runs
	// on the committer's goroutine: it must only touch tx, and be quick.
	// If it fails, the record is not appended and Append returns its
	// error; the other requests of the group commit go ahead.
	Write func(tx *sql.Tx) error
}

// Entry is a record as stored: its place in the chain and its signed frame.
type Entry struct {
	Seq     uint64
	Key     string
	Type    string
	Frame   []byte
	Created time.Time
	// Existing is set when Append found the key already waiting.
	Existing bool
}

// Stats describes the queue.
type Stats struct {
	// Outbox is the store's identity, in hex ("" for a release-1 store's
	// stream): LastSeq and Acked count in it.
	Outbox  string `json:"outbox"`
	LastSeq uint64 `json:"last_seq"`
	Acked   uint64 `json:"acked"`
	Depth   uint64 `json:"depth"`
	// Blocked counts records the platform rejected that wait for a
	// skip_rejected command; the queue does not move past the first.
	Blocked uint64 `json:"blocked"`
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("outbox: closed")

// Store is an open outbox. Its methods are safe for concurrent use.
type Store struct {
	id   Identity
	w    *sql.DB // one connection: the committer's
	r    *sql.DB // readers
	reqs chan *request
	done chan struct{}
	wg   sync.WaitGroup

	lastSeq  atomic.Uint64
	acked    atomic.Uint64
	blocked  atomic.Uint64
	outboxID atomic.Pointer[envelope.OutboxID] // changed by the committer only

	// Owned by the committer goroutine.
	lastHash envelope.Hash
	boot     uint32
	opened   time.Time

	// res is the disk space kept for acks (reserve.go).
	res reserve

	wakeMu sync.Mutex
	wake   chan struct{}

	closeOnce sync.Once
}

// maxBatch bounds one group commit.
const maxBatch = 1024

// Open opens or creates the outbox at path and brings its schema up to
// date (migrations.go).
func Open(path string, id Identity) (*Store, error) {
	if len(id.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("outbox: identity has no signing key")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	// The read pool cannot write: every write goes through the committer.
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("outbox: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	s := &Store{id: id, w: w, r: r, reqs: make(chan *request, maxBatch), done: make(chan struct{}), wake: make(chan struct{}), opened: time.Now()}
	if err := s.init(); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("outbox: %s: %w", path, err)
	}
	s.wg.Add(1)
	go s.commitLoop()
	return s, nil
}

func (s *Store) init() error {
	ctx := context.Background()
	if err := migrate(ctx, s.w); err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	m, err := readMeta(tx)
	if err != nil {
		return err
	}
	var owner []byte
	switch err := tx.QueryRow(`SELECT v FROM meta WHERE k='device'`).Scan(&owner); {
	case errors.Is(err, sql.ErrNoRows):
		if m.lastSeq > 0 || m.boot > 0 {
			return fmt.Errorf("%w: meta row \"device\" missing from a store that has been used", ErrDamaged)
		}
		if _, err := tx.Exec(`INSERT INTO meta(k,v) VALUES('device',?)`, []byte(s.id.Tenant+"/"+s.id.Device)); err != nil {
			return err
		}
	case err != nil:
		return err
	case string(owner) != s.id.Tenant+"/"+s.id.Device:
		// A store moved between devices would break both chains.
		return fmt.Errorf("store belongs to %q, not %s/%s", owner, s.id.Tenant, s.id.Device)
	}
	s.outboxID.Store(&m.id)
	s.lastSeq.Store(m.lastSeq)
	s.acked.Store(m.acked)
	s.blocked.Store(m.blocked)
	s.lastHash = m.hash
	s.boot = uint32(m.boot) + 1
	if err := setMeta(tx, "boot", uint64(s.boot)); err != nil {
		return err
	}
	if m.id.IsZero() && m.lastSeq == m.acked {
		// A release-1 store with nothing waiting: its own identity now.
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
	return tx.Commit()
}

func setMeta(tx *sql.Tx, k string, v uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	_, err := tx.Exec(`INSERT INTO meta(k,v) VALUES(?,?) ON CONFLICT(k) DO UPDATE SET v=excluded.v`, k, b[:])
	return err
}

// request is one caller's share of a group commit.
type request struct {
	rec   *Record             // an append, or nil
	write func(*sql.Tx) error // the flow's writes (with or without rec)
	ackTo uint64              // forget records up to this seq, or 0
	// ctl, if not nil, runs alone in a transaction of its own (Rekey,
	// SkipRejected...); its after runs once that is committed.
	ctl   func(*sql.Tx) (after func(), err error)
	entry Entry
	err   error
	done  chan struct{}
}

// Append commits r durably and returns its entry.
func (s *Store) Append(ctx context.Context, r Record) (Entry, error) {
	if r.Key == "" || len(r.Key) > envelope.MaxKey {
		return Entry{}, fmt.Errorf("outbox: bad idempotency key")
	}
	if r.Schema == 0 {
		r.Schema = 1
	}
	if !json.Valid(r.Body) {
		return Entry{}, fmt.Errorf("outbox: record %s: body is not JSON", r.Type)
	}
	req := &request{rec: &r, write: r.Write, done: make(chan struct{})}
	if err := s.submit(ctx, req); err != nil {
		return Entry{}, err
	}
	return req.entry, nil
}

// Update runs fn in a group-committed transaction, for writes that send
// no record, and returns once they are on disk. fn runs on the committer's
// goroutine: it must only touch tx, and be quick; if it fails, its writes
// are undone and Update returns its error.
func (s *Store) Update(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.submit(ctx, &request{write: fn, done: make(chan struct{})})
}

// Ack forgets every record with seq <= upto: the platform has applied them.
func (s *Store) Ack(ctx context.Context, upto uint64) error {
	if upto <= s.acked.Load() {
		return nil
	}
	if last := s.lastSeq.Load(); upto > last {
		return fmt.Errorf("outbox: ack for seq %d beyond last record %d", upto, last)
	}
	return s.submit(ctx, &request{ackTo: upto, done: make(chan struct{})})
}

func (s *Store) submit(ctx context.Context, req *request) error {
	select {
	case <-s.done:
		return ErrClosed
	default:
	}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrClosed
	}
	// Once queued, the commit goes ahead whatever the caller's context
	// says: the caller learns the outcome unless it stops waiting.
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxLinger caps how long the committer waits for writers of the last
// group to come back; it is also bounded by half the last commit's time.
const maxLinger = time.Millisecond

func (s *Store) commitLoop() {
	defer s.wg.Done()
	batch := make([]*request, 0, maxBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	var lastSize int
	var lastTook time.Duration
	for {
		select {
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		case <-s.done:
			s.failPending()
			return
		}
		s.fill(&batch)
		// The writers answered by the last commit come back one by one as
		// they get scheduled; committing the first of them alone would split
		// the group in two and halve the throughput. So while the group is
		// smaller than the last one, wait a little for the rest. A lone
		// writer (last group of one) never waits.
		if len(batch) < lastSize {
			linger.Reset(min(lastTook/2, maxLinger))
		wait:
			for len(batch) < lastSize {
				select {
				case r := <-s.reqs:
					batch = append(batch, r)
					s.fill(&batch)
				case <-linger.C:
					break wait
				}
			}
			if !linger.Stop() {
				select {
				case <-linger.C:
				default:
				}
			}
		}
		t0 := time.Now()
		s.commitAll(batch)
		lastSize, lastTook = len(batch), time.Since(t0)
	}
}

// commitAll commits batch: the control requests each alone, in order with
// the group commits of the requests around them.
func (s *Store) commitAll(batch []*request) {
	start := 0
	for i, r := range batch {
		if r.ctl == nil {
			continue
		}
		if i > start {
			s.commit(batch[start:i])
		}
		s.runControl(r)
		start = i + 1
	}
	if start < len(batch) {
		s.commit(batch[start:])
	}
}

// fill adds the requests already queued to batch, without waiting.
func (s *Store) fill(batch *[]*request) {
	for len(*batch) < maxBatch {
		select {
		case r := <-s.reqs:
			*batch = append(*batch, r)
		default:
			return
		}
	}
}

// failPending answers requests still queued at Close.
func (s *Store) failPending() {
	for {
		select {
		case r := <-s.reqs:
			r.err = ErrClosed
			close(r.done)
		default:
			return
		}
	}
}

func (s *Store) commit(batch []*request) {
	batch = s.refuseWhileFull(batch)
	if len(batch) == 0 {
		return
	}
	appended, err := s.commitTx(batch)
	if err != nil && s.onDiskFull(err) {
		// The reserve is given back: the acks of the batch go through on
		// its space; its new records and writes are refused.
		acks, others := splitAcks(batch)
		for _, req := range others {
			req.err = fmt.Errorf("%w (%v)", ErrDiskFull, err)
			close(req.done)
		}
		batch, appended, err = acks, false, nil
		if len(batch) == 0 {
			return
		}
		_, err = s.commitTx(batch)
	}
	s.afterAcks()
	for _, req := range batch {
		if err != nil {
			req.err = err
		}
		close(req.done)
	}
	if appended && err == nil {
		s.signal()
	}
}

// commitTx commits batch in one transaction and, committed, moves the
// store's counters on; it answers no request.
func (s *Store) commitTx(batch []*request) (appended bool, err error) {
	seq, hash := s.lastSeq.Load(), s.lastHash
	acked := s.acked.Load()
	err = func() error {
		tx, err := s.w.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var ins *sql.Stmt
		for _, req := range batch {
			if req.rec == nil && req.write == nil {
				if req.ackTo > acked && req.ackTo <= seq {
					acked = req.ackTo
				}
				continue
			}
			if req.rec != nil && ins == nil {
				if ins, err = tx.Prepare(`INSERT INTO outbox(seq,key,type,frame,created) VALUES(?,?,?,?,?) ON CONFLICT(key) DO NOTHING`); err != nil {
					return err
				}
			}
			// A savepoint per request that has writes of the flow's: a
			// failing Write undoes its own request only. A bare append
			// fails only with the database, and then the whole group.
			guard := req.write != nil
			if guard {
				if _, err := tx.Exec(`SAVEPOINT req`); err != nil {
					return err
				}
			}
			e, isNew, rerr := s.one(tx, ins, req, seq+1, hash)
			if rerr != nil && !guard {
				return rerr
			}
			if rerr != nil {
				if _, err := tx.Exec(`ROLLBACK TO req; RELEASE req`); err != nil {
					return err
				}
				req.err = rerr
				continue
			}
			if guard {
				if _, err := tx.Exec(`RELEASE req`); err != nil {
					return err
				}
			}
			if isNew {
				seq++
				hash = envelope.HashOf(mustPayload(e.Frame))
				appended = true
			}
			req.entry = e
		}
		if acked > s.acked.Load() {
			if _, err := tx.Exec(`DELETE FROM outbox WHERE seq <= ?`, acked); err != nil {
				return err
			}
			if err := setMeta(tx, "acked", acked); err != nil {
				return err
			}
		}
		if appended {
			if err := setMeta(tx, "last_seq", seq); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO meta(k,v) VALUES('last_hash',?) ON CONFLICT(k) DO UPDATE SET v=excluded.v`, hash[:]); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	if err == nil {
		wasAcked := s.acked.Load()
		s.lastSeq.Store(seq)
		s.lastHash = hash
		s.acked.Store(acked)
		if acked > wasAcked && acked == seq && s.Identity().IsZero() {
			// A release-1 store's queue is empty: it takes an identity
			// of its own, with nothing to renumber. Best effort: failing,
			// it stays in the release-1 stream and tries at the next ack.
			_ = s.leaveLegacyNow()
		}
	} else {
		err = fmt.Errorf("outbox: commit: %w", err)
	}
	return appended, err
}

// one does req's append and writes; the caller undoes them on error.
func (s *Store) one(tx *sql.Tx, ins *sql.Stmt, req *request, seq uint64, prev envelope.Hash) (e Entry, isNew bool, err error) {
	if req.rec != nil {
		if e, isNew, err = s.appendOne(tx, ins, req.rec, seq, prev); err != nil {
			return Entry{}, false, fmt.Errorf("outbox: append %s: %w", req.rec.Type, err)
		}
	}
	if req.write != nil {
		defer func() {
			// A flow's bug fails its request, not the committer.
			if p := recover(); p != nil {
				err = fmt.Errorf("outbox: write panicked: %v", p)
			}
		}()
		if err := req.write(tx); err != nil {
			return Entry{}, false, err
		}
	}
	return e, isNew, nil
}

func mustPayload(frame []byte) []byte {
	p, _, err := envelope.Split(frame)
	if err != nil {
		panic("outbox: own frame unreadable: " + err.Error())
	}
	return p
}

// appendOne inserts rec as seq, chained to prev, unless its key is waiting
// already; then it returns the waiting entry.
func (s *Store) appendOne(tx *sql.Tx, ins *sql.Stmt, rec *Record, seq uint64, prev envelope.Hash) (Entry, bool, error) {
	now := time.Now()
	payload, err := json.Marshal(envelope.Record{
		Tenant: s.id.Tenant, Device: s.id.Device, Outbox: s.Identity(), Seq: seq, Key: rec.Key, Type: rec.Type,
		Schema: rec.Schema, Wall: now.UnixMilli(), Boot: s.boot, Mono: time.Since(s.opened).Nanoseconds(),
		Prev: prev, Body: rec.Body,
	})
	if err != nil {
		return Entry{}, false, err
	}
	frame := envelope.Seal(s.id.Key, payload)
	res, err := ins.Exec(seq, rec.Key, rec.Type, frame, now.UnixMilli())
	if err != nil {
		return Entry{}, false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return Entry{Seq: seq, Key: rec.Key, Type: rec.Type, Frame: frame, Created: now}, true, nil
	}
	var e Entry
	var created int64
	if err := tx.QueryRow(`SELECT seq,key,type,frame,created FROM outbox WHERE key=?`, rec.Key).Scan(&e.Seq, &e.Key, &e.Type, &e.Frame, &created); err != nil {
		return Entry{}, false, err
	}
	e.Created, e.Existing = time.UnixMilli(created), true
	return e, false, nil
}

// Pending returns up to limit waiting records with seq > after, in order.
func (s *Store) Pending(ctx context.Context, after uint64, limit int) ([]Entry, error) {
	if a := s.acked.Load(); after < a {
		after = a
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq,key,type,frame,created FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: pending: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var created int64
		if err := rows.Scan(&e.Seq, &e.Key, &e.Type, &e.Frame, &created); err != nil {
			return nil, fmt.Errorf("outbox: pending: %w", err)
		}
		e.Created = time.UnixMilli(created)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Reader is the pool the flows read their tables with. Its connections
// refuse writes (query_only): writes go through Append and Update.
func (s *Store) Reader() *sql.DB { return s.r }

// Stats returns the queue's counters.
func (s *Store) Stats() Stats {
	// Read in this order, acked (which only grows between renumberings)
	// cannot pass last; the guard covers a Rekey in between.
	id := s.Identity()
	acked := s.acked.Load()
	last := s.lastSeq.Load()
	var depth uint64
	if last > acked {
		depth = last - acked
	}
	return Stats{Outbox: id.String(), LastSeq: last, Acked: acked, Depth: depth, Blocked: s.blocked.Load()}
}

// Appended returns a channel that is closed at the next append, for the
// link to wake up on.
func (s *Store) Appended() <-chan struct{} {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	return s.wake
}

func (s *Store) signal() {
	s.wakeMu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.wakeMu.Unlock()
}

// Close stops the committer after the commit under way and closes the
// database. Requests not yet committed fail with ErrClosed.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		s.wg.Wait()
		err = errors.Join(s.w.Close(), s.r.Close())
	})
	return err
}
