package outbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// ErrDiskFull is the error of an append or a write refused because the
// store's disk is full: nothing was stored, so the payment or activation
// was not taken and the screen must say so. Acks still go through, on the
// reserve (KeepReserve), so that the queue drains and space comes back;
// new records are taken again once the reserve could be made again.
var ErrDiskFull = errors.New("disk full: the record was not stored (the payment was not taken); acks still drain the queue")

// reserve is a file of zeros beside the store, given back to the file
// system when SQLite finds the disk full, so that the platform's acks can
// still be written and the records they release deleted.
type reserve struct {
	mu   sync.Mutex
	path string
	size int64
	// full: the reserve is given back; appends and writes are refused
	// until it can be made again.
	full bool
}

// KeepReserve keeps size bytes of the store's disk in a file named
// path+".reserve" beside it, for the acks of a full disk. It writes the
// file now unless it is already there at that size. Without it, a full
// disk fails acks as it fails appends, and the queue never drains.
func (s *Store) KeepReserve(path string, size int64) error {
	s.res.mu.Lock()
	defer s.res.mu.Unlock()
	s.res.path, s.res.size = path+".reserve", size
	if fi, err := os.Stat(s.res.path); err == nil && fi.Size() == size {
		s.res.full = false
		return nil
	}
	if err := s.res.make(); err != nil {
		// Already full: the store starts refusing appends, and takes
		// them again once the reserve can be made.
		s.res.full = true
		return fmt.Errorf("outbox: reserve %s: %w", s.res.path, err)
	}
	s.res.full = false
	return nil
}

// DiskFull reports whether the store is refusing new records because
// its disk is full.
func (s *Store) DiskFull() bool {
	s.res.mu.Lock()
	defer s.res.mu.Unlock()
	return s.res.full
}

// make writes the reserve file: zeros, synced, so that the blocks are
// really taken (a sparse file would give nothing back).
func (r *reserve) make() error {
	tmp := r.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for left := r.size; left > 0; {
		n := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			os.Remove(tmp)
			return err
		}
		left -= n
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, r.path)
}

// free is the space left to unprivileged writers on the reserve's file
// system; 0 if it cannot be read.
func (r *reserve) free() int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(r.path), &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * st.Bsize
}

// isDiskFull says whether err is SQLite's SQLITE_FULL or the system's
// ENOSPC.
func isDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "database or disk is full")
}

// onDiskFull gives the reserve back when err says the disk is full, and
// reports whether the commit should be tried again for its acks.
func (s *Store) onDiskFull(err error) bool {
	if !isDiskFull(err) {
		return false
	}
	s.res.mu.Lock()
	defer s.res.mu.Unlock()
	if s.res.path == "" {
		return false
	}
	s.res.full = true
	os.Remove(s.res.path + ".tmp")
	// Already gone (given back earlier) or removed now: either way the
	// acks are tried again, on whatever space there is.
	os.Remove(s.res.path)
	return true
}

// refuseWhileFull answers the appends and writes of batch with
// ErrDiskFull while the disk is full and the reserve cannot be made again,
// and returns the requests left to commit.
func (s *Store) refuseWhileFull(batch []*request) []*request {
	s.res.mu.Lock()
	defer s.res.mu.Unlock()
	if !s.res.full {
		return batch
	}
	acks, others := splitAcks(batch)
	if len(others) == 0 {
		return batch
	}
	s.reclaim()
	// Twice the reserve free before taking records again, so that the
	// store does not swing between full and not at every record.
	if s.res.free() >= 2*s.res.size && s.res.make() == nil {
		s.res.full = false
		return batch
	}
	for _, req := range others {
		req.err = ErrDiskFull
		close(req.done)
	}
	return acks
}

// afterAcks gives the space of acked records back to the file system
// while the disk is full, so that the reserve can be made again.
func (s *Store) afterAcks() {
	s.res.mu.Lock()
	defer s.res.mu.Unlock()
	if s.res.full {
		s.reclaim()
	}
}

// reclaim shrinks the write-ahead log and, the queue empty, the database
// file. Best effort: on a full disk either may fail, and is tried again
// at the next ack.
func (s *Store) reclaim() {
	s.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	if s.acked.Load() == s.lastSeq.Load() {
		s.w.Exec(`VACUUM`)
		s.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	}
}

// splitAcks parts batch into its bare acks and the rest.
func splitAcks(batch []*request) (acks, others []*request) {
	for _, req := range batch {
		if req.rec == nil && req.write == nil && req.ctl == nil {
			acks = append(acks, req)
		} else {
			others = append(others, req)
		}
	}
	return acks, others
}
