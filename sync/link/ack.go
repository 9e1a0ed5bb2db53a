package link

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/guichet/guichet/sync/envelope"
)

// applyAck lets the outbox forget what the platform acked and hands the
// results to the flows; it reports progress. It reads, in order:
//
//   - the ack's outbox identity: an ack for another identity than the
//     store's answers a store since replaced or rekeyed, and is ignored;
//   - conflicts, an ack beyond the last record, or a record at Upto that
//     is not the one the platform holds (Last): the store was restored
//     from a copy that went on numbering. Nothing is forgotten; the store
//     rekeys (its waiting records, renumbered under a new identity, go
//     again from the start, and the platform answers those it has by key);
//   - records the platform skipped (a skip_rejected the device missed):
//     set aside in the skipped table before the ack forgets them;
//   - Upto, then other rejects (kept, the queue is blocked: an alarm).
func (l *Link) applyAck(ctx context.Context, a *envelope.Ack) bool {
	if a.Outbox != l.ob.Identity() {
		l.log.Debug("ack for another outbox identity ignored", "outbox", a.Outbox, "store", l.ob.Identity())
		return false
	}
	st := l.ob.Stats()
	for _, r := range a.Rejects {
		if r.Code == envelope.RejectConflict {
			return l.rekey(ctx, "conflict at seq "+strconv.FormatUint(r.Seq, 10)+": "+r.Reason)
		}
	}
	if a.Upto > st.Acked {
		if a.Upto > st.LastSeq {
			return l.rekey(ctx, fmt.Sprintf("ack up to %d beyond the last record %d", a.Upto, st.LastSeq))
		}
		if a.Last != (envelope.Hash{}) && !l.holds(ctx, a.Upto, a.Last) {
			return l.rekey(ctx, fmt.Sprintf("record %d is not the one the platform holds", a.Upto))
		}
	}
	// The types are looked up before the ack lets the outbox forget the
	// records.
	types := make([]string, len(a.Results))
	for i, r := range a.Results {
		types[i] = l.recordType(ctx, r.Seq, st.Acked)
		if r.Status == StatusSkipped && r.Seq > st.Acked {
			if err := l.ob.SkipRejected(ctx, a.Outbox, r.Seq, "skipped by the platform", ""); err != nil {
				l.log.Error("outbox skip", "seq", r.Seq, "err", err)
			}
		}
	}
	if len(a.Results) > 0 {
		st = l.ob.Stats()
	}
	progress := false
	if a.Upto > st.Acked {
		if err := l.ob.Ack(ctx, a.Upto); err != nil {
			l.log.Error("outbox ack", "err", err)
			return false
		}
		progress = true
		l.forgetTypes(st.Acked, a.Upto)
	}
	now := time.Now()
	l.mu.Lock()
	l.status.LastAck = now
	if l.ob.Stats().Depth == 0 {
		l.status.LastSync = now
	}
	l.mu.Unlock()
	for _, r := range a.Rejects {
		l.rejected.Add(1)
		l.log.Error("platform rejected record: the queue is blocked until an operator's skip_rejected", "outbox", a.Outbox, "seq", r.Seq, "code", r.Code, "reason", r.Reason)
	}
	if len(a.Rejects) > 0 {
		if err := l.ob.NoteRejections(ctx, a.Outbox, a.Rejects); err != nil {
			l.log.Error("outbox rejections", "err", err)
		}
	}
	for i, r := range a.Results {
		if !l.cfg.Router.result(types[i], r) && types[i] == "" {
			// Answered before (a repeated ack): the flow had it then.
			l.log.Debug("result for a record no longer held", "seq", r.Seq)
		}
	}
	return progress
}

// recordType returns the type of the record seq: from the records this
// process sent or, for one sent by an earlier process and not acked yet,
// from the outbox; "" for a record already acked.
func (l *Link) recordType(ctx context.Context, seq, acked uint64) string {
	if t, ok := l.types[seq]; ok {
		return t
	}
	if seq <= acked {
		return ""
	}
	ents, err := l.ob.Pending(ctx, seq-1, 1)
	if err != nil || len(ents) == 0 || ents[0].Seq != seq {
		l.log.Warn("result for a record not in the outbox", "seq", seq, "err", err)
		return ""
	}
	return ents[0].Type
}

// forgetTypes drops the types of records in (from, upto], now acked.
func (l *Link) forgetTypes(from, upto uint64) {
	if upto-from > uint64(len(l.types)) {
		for seq := range l.types {
			if seq <= upto {
				delete(l.types, seq)
			}
		}
		return
	}
	for seq := from + 1; seq <= upto; seq++ {
		delete(l.types, seq)
	}
}

// StatusSkipped is the status of a result for a record the platform moved
// past (skip_rejected): nothing was applied.
const StatusSkipped = "skipped"

// holds reports whether the outbox's record seq has the payload hash h.
func (l *Link) holds(ctx context.Context, seq uint64, h envelope.Hash) bool {
	ents, err := l.ob.Pending(ctx, seq-1, 1)
	if err != nil || len(ents) == 0 || ents[0].Seq != seq {
		// Not readable: the ack is not trusted either.
		l.log.Warn("acked record not in the outbox", "seq", seq, "err", err)
		return false
	}
	p, _, err := envelope.Split(ents[0].Frame)
	return err == nil && envelope.HashOf(p) == h
}

// rekey gives the store's waiting records a new identity; the session
// sends them again from the start when it sees the identity change.
func (l *Link) rekey(ctx context.Context, why string) bool {
	old := l.ob.Identity()
	id, err := l.ob.Rekey(ctx, why)
	if err != nil {
		l.log.Error("outbox rekey", "err", err, "why", why)
		return false
	}
	l.rekeys.Add(1)
	l.log.Warn("outbox rekeyed: the platform holds other records under this identity", "old", old, "new", id, "why", why)
	return true
}

// skip applies a skip_rejected command.
func (l *Link) skip(ctx context.Context, cmd *envelope.Command) error {
	args, err := envelope.DecodeSkipRejected(cmd.Args)
	if err != nil {
		return err
	}
	if err := l.ob.SkipRejected(ctx, args.Outbox, args.Seq, args.Reason, cmd.ID); err != nil {
		return err
	}
	l.log.Warn("rejected record skipped by command", "id", cmd.ID, "outbox", args.Outbox, "seq", args.Seq, "reason", args.Reason)
	l.SyncNow()
	return nil
}
