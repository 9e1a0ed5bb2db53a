package link

import (
	"context"
	"time"

	"github.com/guichet/guichet/sync/envelope"
)

func (l *Link) applyAck(ctx context.Context, a *envelope.Ack) bool {
	st := l.ob.Stats()
	// The types are looked up before the ack lets the outbox forget the
	// records.
	types := make([]string, len(a.Results))
	for i, r := range a.Results {
		types[i] = l.recordType(ctx, r.Seq, st.Acked)
	}
	progress := false
	if a.Upto > st.Acked {
		if a.Upto > st.LastSeq {
			l.refused.Add(1)
			l.log.Error("ack beyond last record refused", "upto", a.Upto, "last", st.LastSeq)
			return false
		}
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
		l.log.Error("platform rejected record", "seq", r.Seq, "reason", r.Reason)
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
