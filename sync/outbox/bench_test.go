package outbox

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/sync/envelope"
)

// benchSpan is how long each engine is driven. Throughput over a fixed
// span, rather than a fixed count, keeps the run's length the same on a
// slow SD card and a fast NVMe disk.
const benchSpan = 2 * time.Second

// benchBody is a payment authorisation as the checkout flow appends it; the
// sealed frame around it is about 400 bytes.
var benchBody = []byte(`{"amount":"12.34","currency":"CNY","code_kind":"wechat","code_hash":"3f1c9a2be47d05f68a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef","till":"T01"}`)

// BenchmarkCommit measures durable appends to the outbox (with 1 and 8
// concurrent writers) next to what the disk and the candidate engines give
// for the same durability: a bare write+fdatasync loop, plain SQLite (WAL,
// synchronous=FULL, one transaction per record) and bbolt. docs/decisions.md
// records the figures and the choice they support.
func BenchmarkCommit(b *testing.B) {
	dir := b.TempDir()
	frame := benchFrame(b)
	for i := 0; i < b.N; i++ {
		fsyncRPS, fsyncP50 := benchFsync(b, filepath.Join(dir, fmt.Sprintf("fsync-%d", i)), len(frame))
		benchfig.Report(b, "fsync_rps", fsyncRPS, "rps")
		benchfig.Report(b, "fsync_p50_us", fsyncP50, "us")

		rps1, p50 := benchOutbox(b, filepath.Join(dir, fmt.Sprintf("outbox1-%d.db", i)), 1)
		benchfig.Report(b, "commit_rps_1w", rps1, "rps")
		benchfig.Report(b, "commit_p50_us_1w", p50, "us")
		rps8, _ := benchOutbox(b, filepath.Join(dir, fmt.Sprintf("outbox8-%d.db", i)), 8)
		benchfig.Report(b, "commit_rps_8w", rps8, "rps")

		sq1 := benchSQLite(b, filepath.Join(dir, fmt.Sprintf("sqlite1-%d.db", i)), 1, frame)
		benchfig.Report(b, "sqlite_rps_1w", sq1, "rps")
		sq8 := benchSQLite(b, filepath.Join(dir, fmt.Sprintf("sqlite8-%d.db", i)), 8, frame)
		benchfig.Report(b, "sqlite_rps_8w", sq8, "rps")

		bb1 := benchBolt(b, filepath.Join(dir, fmt.Sprintf("bolt1-%d.db", i)), 1, boltUpdate, frame)
		benchfig.Report(b, "bbolt_rps_1w", bb1, "rps")
		bb8 := benchBolt(b, filepath.Join(dir, fmt.Sprintf("bolt8-%d.db", i)), 8, boltGroup, frame)
		benchfig.Report(b, "bbolt_rps_8w", bb8, "rps")
		bbb8 := benchBolt(b, filepath.Join(dir, fmt.Sprintf("boltb8-%d.db", i)), 8, boltBatch, frame)
		benchfig.Report(b, "bbolt_batch_rps_8w", bbb8, "rps")
	}
}

// benchFrame is a sealed record of the size the outbox writes, for the
// engines that store bytes without building them.
func benchFrame(b testing.TB) []byte {
	id := testIdentity(b)
	payload, err := json.Marshal(envelope.Record{Tenant: id.Tenant, Device: id.Device, Seq: 1, Key: "pay-000000000001",
		Type: "payment.auth", Schema: 1, Wall: time.Now().UnixMilli(), Boot: 1, Mono: 1, Body: benchBody})
	if err != nil {
		b.Fatal(err)
	}
	return envelope.Seal(id.Key, payload)
}

// benchFsync is the disk's own ceiling for one durable write at a time:
// append size bytes to a file and fdatasync, in a loop.
func benchFsync(b testing.TB, path string, size int) (rps, p50us float64) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, size)
	var lat []time.Duration
	start := time.Now()
	for time.Since(start) < benchSpan {
		t0 := time.Now()
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := fdatasync(f); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	return float64(len(lat)) / time.Since(start).Seconds(), medianUS(lat)
}

// benchOutbox drives Store.Append from writers goroutines for benchSpan.
func benchOutbox(b testing.TB, path string, writers int) (rps, p50us float64) {
	s, err := Open(path, testIdentity(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	n, lats := drive(b, writers, func(w, i int) error {
		_, err := s.Append(ctx, Record{Key: fmt.Sprintf("pay-%d-%d", w, i), Type: "payment.auth", Body: benchBody})
		return err
	})
	if st := s.Stats(); st.LastSeq != uint64(n) {
		b.Fatalf("outbox holds %d records after %d appends", st.LastSeq, n)
	}
	return float64(n) / benchSpan.Seconds(), medianUS(lats)
}

// benchSQLite is the outbox's engine without the group commit: each record
// its own transaction, writers contending for SQLite's write lock.
func benchSQLite(b testing.TB, path string, writers int, frame []byte) float64 {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(writers)
	if _, err := db.Exec(`CREATE TABLE outbox (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, frame BLOB NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	n, _ := drive(b, writers, func(w, i int) error {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.Exec(`INSERT INTO outbox(seq,key,frame) VALUES(?,?,?)`, seq.Add(1), fmt.Sprintf("pay-%d-%d", w, i), frame); err != nil {
			return err
		}
		return tx.Commit()
	})
	var got int
	if err := db.QueryRow(`SELECT count(*) FROM outbox`).Scan(&got); err != nil || got != n {
		b.Fatalf("sqlite holds %d rows after %d inserts: %v", got, n, err)
	}
	return float64(n) / benchSpan.Seconds()
}

// boltMode is how writers reach bbolt.
type boltMode int

const (
	boltUpdate boltMode = iota // one db.Update (one fsync) per record
	boltBatch                  // db.Batch with its default delay and size
	boltGroup                  // a committer goroutine grouping what is queued, as the outbox does
)

// benchBolt measures bbolt with the same durability (fdatasync per
// transaction, the default).
func benchBolt(b testing.TB, path string, writers int, mode boltMode, frame []byte) float64 {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bucket := []byte("outbox")
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		b.Fatal(err)
	}
	put := func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], seq)
		return bk.Put(k[:], frame)
	}
	var write func() error
	switch mode {
	case boltUpdate:
		write = func() error { return db.Update(put) }
	case boltBatch:
		write = func() error { return db.Batch(put) }
	case boltGroup:
		g := newBoltGrouper(db, put)
		defer g.stop()
		write = g.write
	}
	n, _ := drive(b, writers, func(int, int) error { return write() })
	var got int
	db.View(func(tx *bolt.Tx) error { got = tx.Bucket(bucket).Stats().KeyN; return nil })
	if got != n {
		b.Fatalf("bbolt holds %d keys after %d puts", got, n)
	}
	return float64(n) / benchSpan.Seconds()
}

// boltGrouper is the outbox's group commit on bbolt: whatever is queued
// when the committer is free goes into one transaction and one fsync, with
// no timer, so a lone writer is not delayed.
type boltGrouper struct {
	db   *bolt.DB
	put  func(*bolt.Tx) error
	reqs chan chan error
	done chan struct{}
	wg   sync.WaitGroup
}

func newBoltGrouper(db *bolt.DB, put func(*bolt.Tx) error) *boltGrouper {
	g := &boltGrouper{db: db, put: put, reqs: make(chan chan error, maxBatch), done: make(chan struct{})}
	g.wg.Add(1)
	go g.loop()
	return g
}

func (g *boltGrouper) write() error {
	r := make(chan error, 1)
	g.reqs <- r
	return <-r
}

func (g *boltGrouper) loop() {
	defer g.wg.Done()
	var batch []chan error
	var lastSize int
	var lastTook time.Duration
	for {
		select {
		case r := <-g.reqs:
			batch = append(batch[:0], r)
		case <-g.done:
			return
		}
		// The same wait as Store.commitLoop for the rest of the last group.
		linger := time.After(min(lastTook/2, maxLinger))
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				if len(batch) >= lastSize {
					break fill
				}
				select {
				case r := <-g.reqs:
					batch = append(batch, r)
				case <-linger:
					break fill
				}
			}
		}
		t0 := time.Now()
		err := g.db.Update(func(tx *bolt.Tx) error {
			for range batch {
				if err := g.put(tx); err != nil {
					return err
				}
			}
			return nil
		})
		lastSize, lastTook = len(batch), time.Since(t0)
		for _, r := range batch {
			r <- err
		}
	}
}

func (g *boltGrouper) stop() { close(g.done); g.wg.Wait() }

// drive runs op from writers goroutines until benchSpan has passed and
// returns how many calls succeeded and each call's latency.
func drive(b testing.TB, writers int, op func(w, i int) error) (int, []time.Duration) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		all   []time.Duration
		total atomic.Int64
		fail  = make(chan error, writers)
	)
	deadline := time.Now().Add(benchSpan)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var lat []time.Duration
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if err := op(w, i); err != nil {
					fail <- err
					return
				}
				lat = append(lat, time.Since(t0))
			}
			total.Add(int64(len(lat)))
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	close(fail)
	if err := <-fail; err != nil {
		b.Fatal(err)
	}
	return int(total.Load()), all
}

func medianUS(lat []time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return float64(s[len(s)/2].Nanoseconds()) / 1e3
}

// fdatasync flushes f's data (and the metadata needed to read it back),
// as SQLite does with synchronous=FULL on Linux.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
