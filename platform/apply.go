package platform

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/guichet/guichet/sync/envelope"
)

// Decider gives the platform's answer to a record, for example an
// authorisation decision. It runs inside the applying transaction, so it
// must be quick and must not call out. A decider that remembers between
// records implements StatefulDecider too, so that what it remembers is
// committed with the records.
type Decider interface {
	Decide(r *envelope.Record) envelope.Result
}

// Incoming is one upward message as it came off the broker.
type Incoming struct {
	Topic string
	Frame []byte
}

// checked is a message that passed the frame and signature checks.
type checked struct {
	rec     *envelope.Record
	payload []byte
	// key is the record key the signature was checked with (from the
	// cache), nil for a record held since an earlier batch.
	key ed25519.PublicKey
}

// Outcome is what applying a batch produced: one ack per device touched,
// and the count of what was refused.
type Outcome struct {
	Acks       []*envelope.Ack
	Applied    int
	Duplicates int
	Rejected   int
	// Held counts records that arrived ahead of a gap; they wait in the
	// store for the record that fills it.
	Held int
}

// Applier applies batches of records to the store.
type Applier struct {
	Store    *Store
	Decider  Decider
	Instance string
	// Reject is told why each message was refused, for the log and counters.
	Reject func(tenant, device string, seq uint64, reason string)

	keysMu sync.Mutex
	keys   map[string]ed25519.PublicKey // tenant/device -> key, cached
}

// parallelCheck is the batch size from which signatures are checked on
// every core: Ed25519 verification is most of the platform's CPU per
// record, and the applying transaction that follows is serial anyway.
const parallelCheck = 64

// Apply checks and applies a batch in one transaction. Records are applied
// in sequence order per device; a record ahead of a gap is held, one
// already applied is counted as a duplicate and its stored result is sent
// again, so a device whose ack was lost still learns the outcome.
func (a *Applier) Apply(ctx context.Context, batch []Incoming) (*Outcome, error) {
	return a.ApplyChecked(ctx, a.Check(ctx, batch))
}

// Checked is a batch whose frames, topics and signatures have been checked,
// ready for ApplyChecked.
type Checked struct {
	batch  []Incoming
	checks []checkResult
}

// Len is the number of messages in the batch.
func (c *Checked) Len() int { return len(c.batch) }

// Check verifies a batch without taking the store's write lock, so that a
// server can check the next batch while the one before is being applied:
// Ed25519 verification and the applying transaction are the two halves of
// the platform's work per record. The batch must not be changed afterwards.
func (a *Applier) Check(ctx context.Context, batch []Incoming) *Checked {
	return &Checked{batch: batch, checks: a.checkAll(ctx, batch)}
}

// ApplyChecked applies a checked batch in one transaction, as Apply does.
func (a *Applier) ApplyChecked(ctx context.Context, cb *Checked) (*Outcome, error) {
	out := &Outcome{}
	batch, checks := cb.batch, cb.checks
	var good []checked
	for i, in := range batch {
		c, reason := checks[i].c, checks[i].reason
		if reason != "" {
			out.Rejected++
			if a.Reject != nil {
				t, d, _, _ := envelope.ParseUp(in.Topic)
				var seq uint64
				if c.rec != nil {
					seq = c.rec.Seq
				}
				a.Reject(t, d, seq, reason)
			}
			continue
		}
		good = append(good, c)
	}
	sort.SliceStable(good, func(i, j int) bool {
		ri, rj := good[i].rec, good[j].rec
		if ri.Tenant != rj.Tenant {
			return ri.Tenant < rj.Tenant
		}
		if ri.Device != rj.Device {
			return ri.Device < rj.Device
		}
		return ri.Seq < rj.Seq
	})

	tx, err := a.Store.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("platform: begin: %w", err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO records(tenant,device,seq,key,type,body,status,reason,result,wall,applied_at,instance) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return nil, err
	}
	defer ins.Close()
	// The statements run for every record are prepared once per batch:
	// parsing them again for each record cost a third of the apply time.
	known, err := tx.PrepareContext(ctx, `SELECT 1 FROM records WHERE tenant=? AND device=? AND key=?`)
	if err != nil {
		return nil, err
	}
	defer known.Close()
	heldNext, err := tx.PrepareContext(ctx, `SELECT payload FROM held WHERE tenant=? AND device=? AND seq=?`)
	if err != nil {
		return nil, err
	}
	defer heldNext.Close()
	stateful, _ := a.Decider.(StatefulDecider)
	var state *txState
	if stateful != nil {
		st, closeState, err := prepareState(ctx, tx)
		if err != nil {
			return nil, err
		}
		defer closeState()
		state = st
	}
	type devState struct {
		applied    uint64
		last       []byte
		dups, rejs uint64
		ack        *envelope.Ack
		dirty      bool
		// held says the device may have records parked ahead of a gap.
		// The transaction holds the write lock (BEGIN IMMEDIATE), so no
		// other instance parks one meanwhile, and a device without any
		// is spared a lookup per record.
		held bool
		// revoked: the device was revoked or replaced (platform/enrol),
		// or its record key changed since this process cached it.
		revoked bool
		key     []byte
	}
	devs := map[string]*devState{}
	now := time.Now().UnixMilli()
	var applyOne func(c checked) error
	applyOne = func(c checked) error {
		r := c.rec
		id := r.Tenant + "/" + r.Device
		ds := devs[id]
		if ds == nil {
			ds = &devState{ack: &envelope.Ack{Tenant: r.Tenant, Device: r.Device, At: now}}
			if err := tx.QueryRowContext(ctx, `SELECT applied,last_hash,pubkey,EXISTS(SELECT 1 FROM enrol_devices e
				WHERE e.tenant=devices.tenant AND e.device=devices.device AND e.state!='active') FROM devices WHERE tenant=? AND device=?`,
				r.Tenant, r.Device).Scan(&ds.applied, &ds.last, &ds.key, &ds.revoked); err != nil {
				return fmt.Errorf("platform: device %s: %w", id, err)
			}
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS(SELECT 1 FROM held WHERE tenant=? AND device=?)`, r.Tenant, r.Device).Scan(&ds.held); err != nil {
				return fmt.Errorf("platform: device %s: %w", id, err)
			}
			devs[id] = ds
		}
		if ds.revoked || (c.key != nil && !bytes.Equal(c.key, ds.key)) {
			if !ds.revoked {
				a.forgetKey(id)
			}
			return a.refuse(ctx, tx, out, ds.ack, &ds.rejs, r, now, "device revoked")
		}
		switch {
		case r.Seq <= ds.applied:
			ds.dups++
			out.Duplicates++
			res, err := storedResult(ctx, tx, r)
			if err != nil {
				return err
			}
			if res != nil {
				ds.ack.Results = append(ds.ack.Results, *res)
			}
			return nil
		case r.Seq > ds.applied+1:
			// Ahead of a gap: park it in the store, where whichever
			// instance fills the gap will find it.
			_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO held(tenant,device,seq,payload) VALUES(?,?,?,?)`, r.Tenant, r.Device, r.Seq, c.payload)
			out.Held++
			ds.held = true
			return err
		}
		prev := r.Prev
		if (r.Seq == 1 && prev != (envelope.Hash{})) || (r.Seq > 1 && !bytes.Equal(prev[:], ds.last)) {
			reason := "chain broken: prev hash does not match the record applied before"
			ds.rejs++
			out.Rejected++
			ds.ack.Rejects = append(ds.ack.Rejects, envelope.Reject{Seq: r.Seq, Reason: reason})
			if a.Reject != nil {
				a.Reject(r.Tenant, r.Device, r.Seq, reason)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO rejects(tenant,device,seq,reason,at) VALUES(?,?,?,?,?)`, r.Tenant, r.Device, r.Seq, reason, now)
			return err
		}
		res := envelope.Result{Seq: r.Seq, Key: r.Key, Status: "applied"}
		var exists int
		err := known.QueryRowContext(ctx, r.Tenant, r.Device, r.Key).Scan(&exists)
		switch {
		case err == nil:
			// The same business operation under a new sequence number:
			// keep the chain moving but apply nothing.
			res.Status, res.Reason = "duplicate", "idempotency key already applied"
			ds.dups++
			out.Duplicates++
		case errors.Is(err, sql.ErrNoRows):
			switch {
			case stateful != nil:
				if res, err = stateful.DecideIn(state, r); err != nil {
					return fmt.Errorf("platform: decide %s seq %d: %w", id, r.Seq, err)
				}
				res.Seq, res.Key = r.Seq, r.Key
			case a.Decider != nil:
				res = a.Decider.Decide(r)
				res.Seq, res.Key = r.Seq, r.Key
			}
			if _, err := ins.ExecContext(ctx, r.Tenant, r.Device, r.Seq, r.Key, r.Type, []byte(r.Body), res.Status, res.Reason, []byte(res.Body), r.Wall, now, a.Instance); err != nil {
				return fmt.Errorf("platform: apply %s seq %d: %w", id, r.Seq, err)
			}
			out.Applied++
		default:
			return err
		}
		h := envelope.HashOf(c.payload)
		ds.applied, ds.last, ds.dirty = r.Seq, h[:], true
		ds.ack.Results = append(ds.ack.Results, res)
		// Records parked by any instance may now follow.
		if !ds.held {
			return nil
		}
		var payload []byte
		err = heldNext.QueryRowContext(ctx, r.Tenant, r.Device, r.Seq+1).Scan(&payload)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		}
		next, err := envelope.DecodeRecord(payload)
		if err != nil {
			return fmt.Errorf("platform: held record unreadable: %w", err)
		}
		return applyOne(checked{rec: next, payload: payload})
	}
	for _, c := range good {
		if err := applyOne(c); err != nil {
			return nil, err
		}
	}
	for id, ds := range devs {
		if ds.dirty && ds.held {
			t, d, _ := cut(id)
			if _, err := tx.ExecContext(ctx, `DELETE FROM held WHERE tenant=? AND device=? AND seq<=?`, t, d, ds.applied); err != nil {
				return nil, err
			}
		}
		if ds.dirty || ds.dups > 0 || ds.rejs > 0 {
			t, d, _ := cut(id)
			if _, err := tx.ExecContext(ctx, `UPDATE devices SET applied=?, last_hash=?, duplicates=duplicates+?, rejected=rejected+? WHERE tenant=? AND device=?`,
				ds.applied, ds.last, ds.dups, ds.rejs, t, d); err != nil {
				return nil, err
			}
		}
		ds.ack.Upto = ds.applied
		out.Acks = append(out.Acks, ds.ack)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("platform: commit: %w", err)
	}
	return out, nil
}

func cut(id string) (string, string, bool) {
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			return id[:i], id[i+1:], true
		}
	}
	return id, "", false
}

// storedResult returns the result given when r's sequence was applied,
// if it was the same record.
func storedResult(ctx context.Context, tx *sql.Tx, r *envelope.Record) (*envelope.Result, error) {
	var key, status, reason string
	var body []byte
	err := tx.QueryRowContext(ctx, `SELECT key,status,reason,result FROM records WHERE tenant=? AND device=? AND seq=?`, r.Tenant, r.Device, r.Seq).Scan(&key, &status, &reason, &body)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && key != r.Key) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &envelope.Result{Seq: r.Seq, Key: key, Status: status, Reason: reason, Body: json.RawMessage(body)}, nil
}

type checkResult struct {
	c      checked
	reason string
}

// checkAll checks every message of batch, on all cores when the batch is
// large; the results are in batch order.
func (a *Applier) checkAll(ctx context.Context, batch []Incoming) []checkResult {
	res := make([]checkResult, len(batch))
	workers := min(runtime.GOMAXPROCS(0), len(batch)/parallelCheck)
	if workers <= 1 {
		for i, in := range batch {
			res[i].c, res[i].reason = a.check(ctx, in)
		}
		return res
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(batch); i += workers {
				res[i].c, res[i].reason = a.check(ctx, batch[i])
			}
		}(w)
	}
	wg.Wait()
	return res
}

// deviceKey returns the enrolled key of tenant/device, cached.
func (a *Applier) deviceKey(ctx context.Context, tenant, device string) (ed25519.PublicKey, error) {
	id := tenant + "/" + device
	a.keysMu.Lock()
	key, ok := a.keys[id]
	a.keysMu.Unlock()
	if ok {
		return key, nil
	}
	key, err := a.Store.DeviceKey(ctx, tenant, device)
	if err != nil {
		return nil, err
	}
	a.keysMu.Lock()
	if a.keys == nil {
		a.keys = map[string]ed25519.PublicKey{}
	}
	a.keys[id] = key
	a.keysMu.Unlock()
	return key, nil
}

// check verifies one message's frame, topic, signature and fields; it
// returns a reason when the message is refused.
func (a *Applier) check(ctx context.Context, in Incoming) (checked, string) {
	tenant, device, rest, err := envelope.ParseUp(in.Topic)
	if err != nil || rest != "up/rec" {
		return checked{}, "bad topic"
	}
	payload, sig, err := envelope.Split(in.Frame)
	if err != nil {
		return checked{}, err.Error()
	}
	key, err := a.deviceKey(ctx, tenant, device)
	if err != nil {
		return checked{}, "unknown device"
	}
	if err := envelope.Verify(key, payload, sig); err != nil {
		return checked{}, "bad signature"
	}
	r, err := envelope.DecodeRecord(payload)
	if err != nil {
		return checked{}, err.Error()
	}
	if r.Tenant != tenant || r.Device != device {
		// A device may only speak for itself, whatever the broker's ACL.
		return checked{rec: r}, "record names another device than its topic"
	}
	return checked{rec: r, payload: payload, key: key}, ""
}

// forgetKey drops a cached record key that the store no longer holds (the
// device was replaced): the next batch reads the new one.
func (a *Applier) forgetKey(id string) {
	a.keysMu.Lock()
	delete(a.keys, id)
	a.keysMu.Unlock()
}

// refuse rejects record r in the device's ack, the counters and the
// rejects table.
func (a *Applier) refuse(ctx context.Context, tx *sql.Tx, out *Outcome, ack *envelope.Ack, rejs *uint64, r *envelope.Record, now int64, reason string) error {
	*rejs++
	out.Rejected++
	ack.Rejects = append(ack.Rejects, envelope.Reject{Seq: r.Seq, Reason: reason})
	if a.Reject != nil {
		a.Reject(r.Tenant, r.Device, r.Seq, reason)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO rejects(tenant,device,seq,reason,at) VALUES(?,?,?,?,?)`, r.Tenant, r.Device, r.Seq, reason, now)
	return err
}
