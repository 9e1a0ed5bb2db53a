package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/sync/envelope"
)

// VersionsKey is the outbox setting holding the last version applied on
// each downlink stream, as a JSON object {"config": 4, "cmd.sync": 12}.
const VersionsKey = "link.versions"

// downlinkStore is what the downlink needs of the outbox: its settings
// table, where the applied versions live, and the device key, which signs
// the Applied reports as it signs the records.
type downlinkStore interface {
	Setting(ctx context.Context, key string) ([]byte, error)
	PutSetting(ctx context.Context, key string, value []byte) error
	Sign(payload []byte) []byte
}

// downlink is the device's memory of the platform's commands: the last
// version applied per stream, loaded from the outbox once, and the
// refusals counted by reason. Messages are handled by the session loop
// only; the mutex is for Status.
type downlink struct {
	mu       sync.Mutex
	loaded   bool
	applied  map[string]uint64
	refusals map[string]uint64
	err      string // why the versions cannot be read, if so
}

// status copies the downlink's counters into s.
func (d *downlink) status(s *Status) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.refusals) > 0 {
		s.Refusals = maps.Clone(d.refusals)
	}
	if len(d.applied) > 0 {
		s.Versions = maps.Clone(d.applied)
	}
	s.DownlinkError = d.err
}

// loadVersions reads the applied versions from the outbox, once. A value
// that cannot be read stops every command, not just the damaged stream:
// starting again from zero would let an old configuration back in.
func (l *Link) loadVersions(ctx context.Context) error {
	d := &l.dl
	d.mu.Lock()
	loaded := d.loaded
	d.mu.Unlock()
	if loaded {
		return nil
	}
	applied := map[string]uint64{}
	b, err := l.ob.Setting(ctx, VersionsKey)
	if err == nil && len(b) > 0 {
		if uerr := json.Unmarshal(b, &applied); uerr != nil {
			err = fmt.Errorf("link: setting %s is damaged (%v): fix or delete it by hand, knowing that an older configuration could then be applied again", VersionsKey, uerr)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.err = err.Error()
		return err
	}
	d.loaded, d.applied, d.err = true, applied, ""
	return nil
}

// refuse counts a refused downlink message.
func (l *Link) refuse(reason string) {
	l.refused.Add(1)
	l.dl.mu.Lock()
	if l.dl.refusals == nil {
		l.dl.refusals = map[string]uint64{}
	}
	l.dl.refusals[reason]++
	l.dl.mu.Unlock()
}

// refuseFrame counts a frame that failed envelope.Open and, when it was
// on a command topic and its payload names a command, reports the refusal
// so that the platform's push is not left waiting.
func (l *Link) refuseFrame(c mqtt.Client, topic string, frame []byte, err error) {
	reason := envelope.ReasonMalformed
	if errors.Is(err, envelope.ErrSignature) {
		reason = envelope.ReasonForged
	}
	l.refuse(reason)
	l.log.Warn("downlink refused", "topic", topic, "reason", reason, "err", err)
	t := l.topics()
	if topic != t.Commands() && topic != t.Config() {
		return
	}
	if payload, _, serr := envelope.Split(frame); serr == nil {
		l.reportPeeked(c, payload, reason, err.Error())
	}
}

// reportPeeked reports the refusal of a payload that is not a valid
// command, using what it claims to be, if it claims enough.
func (l *Link) reportPeeked(c mqtt.Client, payload []byte, reason, detail string) {
	var p struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Version uint64 `json:"version"`
	}
	if json.Unmarshal(payload, &p) != nil || p.Name == "" {
		return
	}
	stream := envelope.StreamOf(p.Name)
	l.report(c, envelope.Applied{ID: p.ID, Stream: stream, Version: p.Version, Status: envelope.StatusRefused,
		Reason: reason, Detail: detail, Current: l.current(stream)})
}

func (l *Link) current(stream string) uint64 {
	l.dl.mu.Lock()
	defer l.dl.mu.Unlock()
	return l.dl.applied[stream]
}

// command checks a verified command payload against the device's
// identity, the stream's last applied version and the expiry; persists
// the new version, then applies it; and reports the outcome upstream.
//
// The version is on disk before the command is applied: a power cut in
// between loses the command (the platform sees no report and sends it
// again under a new version) rather than applying it twice after the
// restart.
func (l *Link) command(ctx context.Context, c mqtt.Client, m mqtt.Message, payload []byte) {
	cmd, err := envelope.DecodeCommand(payload)
	if err != nil {
		l.refuse(envelope.ReasonMalformed)
		l.log.Warn("command refused", "reason", envelope.ReasonMalformed, "err", err)
		l.reportPeeked(c, payload, envelope.ReasonMalformed, err.Error())
		return
	}
	stream := cmd.Stream()
	refused := func(reason, detail string) {
		l.refuse(reason)
		l.log.Warn("command refused", "reason", reason, "id", cmd.ID, "stream", stream, "version", cmd.Version, "detail", detail)
		l.report(c, envelope.Applied{ID: cmd.ID, Stream: stream, Version: cmd.Version, Status: envelope.StatusRefused,
			Reason: reason, Detail: detail, Current: l.current(stream)})
	}
	if cmd.Tenant != l.cfg.Tenant || cmd.Device != l.cfg.Device {
		refused(envelope.ReasonForeign, fmt.Sprintf("for %s/%s", cmd.Tenant, cmd.Device))
		return
	}
	if err := l.loadVersions(ctx); err != nil {
		refused(envelope.ReasonStore, err.Error())
		return
	}
	last := l.current(stream)
	switch {
	case cmd.Version == last && (m.Duplicate() || m.Retained() && m.Topic() == l.topics().Config()):
		// The broker hands the retained configuration to every new
		// subscription, and sends again (DUP) a message whose PUBACK it
		// did not get before a restart: the one already applied, not a
		// replay.
		l.log.Debug("already applied", "id", cmd.ID, "stream", stream, "version", cmd.Version)
		return
	case cmd.Version == last:
		refused(envelope.ReasonReplayed, fmt.Sprintf("version %d already applied", last))
		return
	case cmd.Version < last:
		refused(envelope.ReasonOld, fmt.Sprintf("version %d is below the applied %d", cmd.Version, last))
		return
	case time.Now().UnixMilli() > cmd.Expires:
		refused(envelope.ReasonExpired, "expired at "+time.UnixMilli(cmd.Expires).UTC().Format(time.RFC3339))
		return
	case cmd.Name != "sync" && cmd.Name != envelope.CommandSkipRejected && !l.cfg.Router.handles(cmd.Name):
		refused(envelope.ReasonUnhandled, "no flow takes "+cmd.Name)
		return
	}
	if err := l.persistVersion(ctx, stream, cmd.Version); err != nil {
		refused(envelope.ReasonStore, err.Error())
		return
	}
	if cmd.Name == "sync" {
		l.SyncNow()
	} else if cmd.Name == envelope.CommandSkipRejected {
		// The link's own: it owns the outbox the record waits in.
		if err := l.skip(ctx, cmd); err != nil {
			refused(envelope.ReasonFailed, err.Error())
			return
		}
	} else if _, err := l.cfg.Router.command(ctx, cmd, l.log); err != nil {
		// The flow kept its last good state; the version stays used, so
		// the same command cannot be tried again, only a newer one.
		refused(envelope.ReasonFailed, err.Error())
		return
	}
	l.log.Info("command applied", "id", cmd.ID, "name", cmd.Name, "version", cmd.Version)
	l.report(c, envelope.Applied{ID: cmd.ID, Stream: stream, Version: cmd.Version, Status: envelope.StatusApplied,
		Current: cmd.Version})
}

// persistVersion stores version as the last applied on stream, on disk,
// before anyone sees it.
func (l *Link) persistVersion(ctx context.Context, stream string, version uint64) error {
	l.dl.mu.Lock()
	next := maps.Clone(l.dl.applied)
	l.dl.mu.Unlock()
	if next == nil {
		next = map[string]uint64{}
	}
	next[stream] = version
	b, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := l.ob.PutSetting(ctx, VersionsKey, b); err != nil {
		return err
	}
	l.dl.mu.Lock()
	l.dl.applied = next
	l.dl.mu.Unlock()
	return nil
}

// report signs a with the device key and publishes it on the applied
// topic, without waiting: a report lost with the connection leaves the
// platform's push without an answer, which it says, and changes nothing
// on the device.
func (l *Link) report(c mqtt.Client, a envelope.Applied) {
	a.Tenant, a.Device, a.At = l.cfg.Tenant, l.cfg.Device, time.Now().UnixMilli()
	a.Detail = clipDetail(a.Detail)
	if err := a.Check(); err != nil {
		// A refused message that claims a bad id or version: counted and
		// logged, nothing to report it as.
		l.log.Debug("refusal not reported", "err", err)
		return
	}
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	c.Publish(l.topics().Applied(), 1, false, l.ob.Sign(b))
}

func clipDetail(s string) string {
	s = strings.ToValidUTF8(s, "?")
	for len(s) > envelope.MaxDetail {
		s = strings.ToValidUTF8(s[:envelope.MaxDetail-3], "") + "..."
	}
	return s
}
