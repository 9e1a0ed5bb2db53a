package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/sync/envelope"
)

// downlinkSchema holds the versions the platform gives each device's
// command streams and the devices' reports of what they did with them
// (docs/protocol.md, "Downlink versions"). Created at open with the rest.
const downlinkSchema = `
CREATE TABLE IF NOT EXISTS downlink_versions (
	tenant TEXT NOT NULL,
	device TEXT NOT NULL,
	stream TEXT NOT NULL,
	last INTEGER NOT NULL,
	PRIMARY KEY (tenant, device, stream)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS downlink_reports (
	tenant TEXT NOT NULL,
	device TEXT NOT NULL,
	id TEXT NOT NULL,
	stream TEXT NOT NULL,
	version INTEGER NOT NULL,
	status TEXT NOT NULL,
	reason TEXT NOT NULL,
	detail TEXT NOT NULL,
	current INTEGER NOT NULL,
	at INTEGER NOT NULL,
	received INTEGER NOT NULL,
	PRIMARY KEY (tenant, device, id, version, status, reason)
) WITHOUT ROWID;
`

// Default expiries of what the platform sends: a command is meant for a
// device online now or soon; the retained configuration must still reach
// a till switched off for a long holiday.
const (
	DefaultCommandExpiry = 24 * time.Hour
	DefaultConfigExpiry  = 30 * 24 * time.Hour
)

// NextVersion allocates the next version of stream for a device: every
// call returns a higher one, across instances and restarts.
func (s *Store) NextVersion(ctx context.Context, tenant, device, stream string) (uint64, error) {
	var v uint64
	err := s.db.QueryRowContext(ctx, `INSERT INTO downlink_versions(tenant, device, stream, last) VALUES(?, ?, ?, 1)
		ON CONFLICT(tenant, device, stream) DO UPDATE SET last = last + 1 RETURNING last`, tenant, device, stream).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("platform: next version of %s for %s/%s: %w", stream, tenant, device, err)
	}
	if v > envelope.MaxVersion {
		return 0, fmt.Errorf("platform: versions of %s for %s/%s exhausted", stream, tenant, device)
	}
	return v, nil
}

// AppliedReport is a device's report as the platform recorded it.
type AppliedReport struct {
	envelope.Applied
	// Received is when the platform recorded it.
	Received time.Time `json:"received"`
}

// VerifyApplied checks a frame received on a device's applied topic: the
// topic names an enrolled device, the frame is signed by its key, and the
// report names the same device.
func (s *Store) VerifyApplied(ctx context.Context, topic string, frame []byte) (*envelope.Applied, error) {
	tenant, device, rest, err := envelope.ParseUp(topic)
	if err != nil {
		return nil, err
	}
	if rest != "up/applied" {
		return nil, fmt.Errorf("platform: applied report on %q", topic)
	}
	key, err := s.DeviceKey(ctx, tenant, device)
	if err != nil {
		return nil, fmt.Errorf("platform: applied report from %s/%s: %w", tenant, device, err)
	}
	payload, err := envelope.Open(key, frame)
	if err != nil {
		return nil, fmt.Errorf("platform: applied report from %s/%s: %w", tenant, device, err)
	}
	a, err := envelope.DecodeApplied(payload)
	if err != nil {
		return nil, err
	}
	if a.Tenant != tenant || a.Device != device {
		return nil, fmt.Errorf("platform: applied report for %s/%s on %s/%s's topic", a.Tenant, a.Device, tenant, device)
	}
	return a, nil
}

// RecordApplied stores a verified report (again is a no-op) and raises the
// stream's counter to the device's current version, so that a platform
// whose counters went back (a restored store) gives a version the device
// will take at the next push.
func (s *Store) RecordApplied(ctx context.Context, a *envelope.Applied) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("platform: record applied: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO downlink_reports(tenant, device, id, stream, version, status,
		reason, detail, current, at, received) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.Tenant, a.Device, a.ID, a.Stream,
		a.Version, a.Status, a.Reason, a.Detail, a.Current, a.At, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("platform: record applied: %w", err)
	}
	if a.Current > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO downlink_versions(tenant, device, stream, last) VALUES(?, ?, ?, ?)
			ON CONFLICT(tenant, device, stream) DO UPDATE SET last = max(last, excluded.last)`,
			a.Tenant, a.Device, a.Stream, a.Current); err != nil {
			return fmt.Errorf("platform: record applied: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("platform: record applied: %w", err)
	}
	return nil
}

// AppliedReports lists a device's reports, oldest first.
func (s *Store) AppliedReports(ctx context.Context, tenant, device string) ([]AppliedReport, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, stream, version, status, reason, detail, current, at, received
		FROM downlink_reports WHERE tenant = ? AND device = ? ORDER BY received, at`, tenant, device)
	if err != nil {
		return nil, fmt.Errorf("platform: applied reports: %w", err)
	}
	defer rows.Close()
	var out []AppliedReport
	for rows.Next() {
		r := AppliedReport{Applied: envelope.Applied{Tenant: tenant, Device: device}}
		var received int64
		if err := rows.Scan(&r.ID, &r.Stream, &r.Version, &r.Status, &r.Reason, &r.Detail, &r.Current, &r.At, &received); err != nil {
			return nil, fmt.Errorf("platform: applied reports: %w", err)
		}
		r.Received = time.UnixMilli(received)
		out = append(out, r)
	}
	return out, rows.Err()
}

// prepare gives cmd its version and, if it has none, an expiry.
func (s *Store) prepare(ctx context.Context, cmd *envelope.Command) error {
	if cmd.Version == 0 {
		v, err := s.NextVersion(ctx, cmd.Tenant, cmd.Device, cmd.Stream())
		if err != nil {
			return err
		}
		cmd.Version = v
	}
	if cmd.Expires == 0 {
		d := DefaultCommandExpiry
		if cmd.Name == envelope.CommandConfig {
			d = DefaultConfigExpiry
		}
		cmd.Expires = time.Now().Add(d).UnixMilli()
	}
	return nil
}

// onApplied records the devices' reports as they come, whoever pushed
// the command. It runs in paho's router.
func (s *Server) onApplied(_ mqtt.Client, m mqtt.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := s.applier.Store.VerifyApplied(ctx, m.Topic(), m.Payload())
	if err != nil {
		s.noteRefused("applied report", err)
		return
	}
	if err := s.applier.Store.RecordApplied(ctx, a); err != nil {
		s.log.Error("applied report", "err", err)
		return
	}
	s.log.Info("device report", "tenant", a.Tenant, "device", a.Device, "id", a.ID, "stream", a.Stream,
		"version", a.Version, "status", a.Status, "reason", a.Reason)
}

func (s *Server) noteRefused(what string, err error) {
	s.mu.Lock()
	s.refused[what]++
	s.mu.Unlock()
	s.log.Warn(what+" refused", "err", err)
}

// PushResult is what Push learnt of a command.
type PushResult struct {
	Topic string
	// Report is the device's, nil when Push did not wait or no report
	// came in time.
	Report *envelope.Applied
}

// ErrNoReport is returned by Push when the device did not report in time.
var ErrNoReport = errors.New("no report from the device")

// Push gives cmd its version (and an expiry if it has none), signs and
// publishes it as Publish does, and, if wait > 0, waits that long for the
// device's Applied report about it, which it checks with the device's
// enrolled key and records. A device that is not enrolled cannot be
// waited for: its reports cannot be checked.
func Push(ctx context.Context, cfg PublishConfig, store *Store, cmd *envelope.Command, retain bool, wait time.Duration) (*PushResult, error) {
	if wait > 0 {
		if _, err := store.DeviceKey(ctx, cmd.Tenant, cmd.Device); err != nil {
			return nil, fmt.Errorf("platform: push: device %s/%s: %w: its report cannot be checked", cmd.Tenant, cmd.Device, err)
		}
	}
	if err := store.prepare(ctx, cmd); err != nil {
		return nil, err
	}
	c, frame, topic, err := prepared(ctx, cfg, *cmd, retain)
	if err != nil {
		return nil, err
	}
	defer c.Disconnect(250)
	reports := make(chan mqtt.Message, 64)
	if wait > 0 {
		applied := envelope.Topics{Tenant: cmd.Tenant, Device: cmd.Device}.Applied()
		// Subscribed before publishing, so that no report can come first.
		if err := waitToken(ctx, c.Subscribe(applied, 1, func(_ mqtt.Client, m mqtt.Message) {
			select {
			case reports <- m:
			default: // full of other pushes' reports: ours is lost, and the wait says so
			}
		})); err != nil {
			return nil, fmt.Errorf("platform: push: subscribe %s: %w", applied, err)
		}
	}
	if err := waitToken(ctx, c.Publish(topic, 1, retain, frame)); err != nil {
		return nil, fmt.Errorf("platform: push %s: %w", topic, err)
	}
	res := &PushResult{Topic: topic}
	if wait <= 0 {
		return res, nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("platform: push: %w", ctx.Err())
		case <-timer.C:
			return res, fmt.Errorf("platform: push: %w within %v", ErrNoReport, wait)
		case m := <-reports:
			a, err := store.VerifyApplied(ctx, m.Topic(), m.Payload())
			if err != nil || a.ID != cmd.ID || a.Version != cmd.Version {
				continue // not ours, or not the device's
			}
			if err := store.RecordApplied(ctx, a); err != nil {
				return res, err
			}
			res.Report = a
			return res, nil
		}
	}
}
