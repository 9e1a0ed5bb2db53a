package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/sync/envelope"
)

// DeviceHealth is what the platform knows of one enrolled device's health:
// its status (or last will) and its last signed health report.
type DeviceHealth struct {
	Tenant string `json:"tenant"`
	Device string `json:"device"`
	// Online is the device's last status: false after its last will, or
	// when it never connected.
	Online bool `json:"online"`
	// LastSeen is the platform's clock (Unix ms) at the last status or
	// report received; 0 for never.
	LastSeen int64 `json:"last_seen"`
	// Depth is the queue's depth in the newer of status and report.
	Depth uint64 `json:"depth"`
	// Degraded names the peripherals not ok, from the last status.
	Degraded []string `json:"degraded"`
	// Versions are the program's, from the last report.
	Versions map[string]string `json:"versions,omitempty"`
	// Health is the last report; nil when none came.
	Health *envelope.Health `json:"health,omitempty"`
	// Instance is the platform instance that received the last message.
	Instance string `json:"instance,omitempty"`
}

// RecordStatus stores a device's status or last will, as received on
// topic; the broker's ACL, not a signature, vouches for its sender
// (envelope.Status). A status for a device that is not enrolled is refused.
func (s *Store) RecordStatus(ctx context.Context, topic string, payload []byte, instance string, now time.Time) (*envelope.Status, error) {
	tenant, device, rest, err := envelope.ParseUp(topic)
	if err != nil {
		return nil, err
	}
	if rest != "up/status" {
		return nil, fmt.Errorf("platform: status on %q", topic)
	}
	st, err := envelope.DecodeStatus(payload)
	if err != nil {
		return nil, err
	}
	degraded, _ := json.Marshal(nonNil(st.Degraded))
	// The last will carries no time and no queue: it keeps the depth the
	// device last reported.
	res, err := s.db.ExecContext(ctx, `INSERT INTO device_health(tenant,device,online,last_seen,status_at,depth,degraded,instance)
		SELECT ?,?,?,?,?,?,?,? WHERE EXISTS(SELECT 1 FROM devices WHERE tenant=? AND device=?)
		ON CONFLICT(tenant,device) DO UPDATE SET online=excluded.online, last_seen=excluded.last_seen,
			status_at=CASE WHEN excluded.online THEN excluded.status_at ELSE status_at END,
			depth=CASE WHEN excluded.online THEN excluded.depth ELSE depth END,
			degraded=CASE WHEN excluded.online THEN excluded.degraded ELSE degraded END,
			instance=excluded.instance`,
		tenant, device, st.Online, now.UnixMilli(), st.At, st.Depth, string(degraded), instance, tenant, device)
	if err != nil {
		return nil, fmt.Errorf("platform: status of %s/%s: %w", tenant, device, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("platform: status of %s/%s: %w", tenant, device, ErrUnknownDevice)
	}
	return st, nil
}

// VerifyHealth checks a health report's frame with the device's enrolled
// record key and its payload against its topic.
func (s *Store) VerifyHealth(ctx context.Context, topic string, frame []byte) (*envelope.Health, error) {
	tenant, device, rest, err := envelope.ParseUp(topic)
	if err != nil {
		return nil, err
	}
	if rest != "up/health" {
		return nil, fmt.Errorf("platform: health report on %q", topic)
	}
	key, err := s.DeviceKey(ctx, tenant, device)
	if err != nil {
		return nil, fmt.Errorf("platform: health report from %s/%s: %w", tenant, device, err)
	}
	payload, err := envelope.Open(key, frame)
	if err != nil {
		return nil, fmt.Errorf("platform: health report from %s/%s: %w", tenant, device, err)
	}
	h, err := envelope.DecodeHealth(payload)
	if err != nil {
		return nil, err
	}
	if h.Tenant != tenant || h.Device != device {
		return nil, fmt.Errorf("platform: health report for %s/%s on %s/%s's topic", h.Tenant, h.Device, tenant, device)
	}
	return h, nil
}

// RecordHealth stores a verified report unless the store holds a newer
// one (by the device's clock), so that a replayed or late report cannot
// hide the current state. It reports whether h was kept.
func (s *Store) RecordHealth(ctx context.Context, h *envelope.Health, instance string, now time.Time) (bool, error) {
	doc, err := json.Marshal(h)
	if err != nil {
		return false, err
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO device_health(tenant,device,last_seen,depth,health_at,health,instance)
		VALUES(?,?,?,?,?,?,?)
		ON CONFLICT(tenant,device) DO UPDATE SET last_seen=excluded.last_seen, health_at=excluded.health_at,
			health=excluded.health, instance=excluded.instance,
			depth=CASE WHEN excluded.health_at >= status_at THEN excluded.depth ELSE depth END
		WHERE excluded.health_at > health_at`,
		h.Tenant, h.Device, now.UnixMilli(), h.Queue.Depth, h.At, doc, instance)
	if err != nil {
		return false, fmt.Errorf("platform: health of %s/%s: %w", h.Tenant, h.Device, err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Devices lists every enrolled device with its health, never heard of
// ones included (offline, last seen 0).
func (s *Store) Devices(ctx context.Context) ([]DeviceHealth, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.tenant,d.device,coalesce(h.online,0),coalesce(h.last_seen,0),
		coalesce(h.depth,0),coalesce(h.degraded,'[]'),h.health,coalesce(h.instance,'')
		FROM devices d LEFT JOIN device_health h ON h.tenant=d.tenant AND h.device=d.device
		ORDER BY d.tenant,d.device`)
	if err != nil {
		return nil, fmt.Errorf("platform: devices: %w", err)
	}
	defer rows.Close()
	out := []DeviceHealth{}
	for rows.Next() {
		var d DeviceHealth
		var degraded string
		var doc []byte
		if err := rows.Scan(&d.Tenant, &d.Device, &d.Online, &d.LastSeen, &d.Depth, &degraded, &doc, &d.Instance); err != nil {
			return nil, fmt.Errorf("platform: devices: %w", err)
		}
		if err := json.Unmarshal([]byte(degraded), &d.Degraded); err != nil || d.Degraded == nil {
			d.Degraded = []string{}
		}
		if doc != nil {
			var h envelope.Health
			if err := json.Unmarshal(doc, &h); err == nil {
				d.Health, d.Versions = &h, h.Versions
			}
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeviceHealthOf returns one device's health.
func (s *Store) DeviceHealthOf(ctx context.Context, tenant, device string) (*DeviceHealth, error) {
	all, err := s.Devices(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Tenant == tenant && all[i].Device == device {
			return &all[i], nil
		}
	}
	return nil, ErrUnknownDevice
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// onStatus records a device's status or last will. Every instance
// subscribes (the write is the same whoever makes it), so the status topic
// needs no shared subscription.
func (s *Server) onStatus(_ mqtt.Client, m mqtt.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.applier.Store.RecordStatus(ctx, m.Topic(), m.Payload(), s.cfg.Instance, time.Now())
	if err != nil {
		if errors.Is(err, ErrUnknownDevice) {
			// A retained status of a device since removed, or one that
			// never enrolled: not worth a warning each time.
			s.count("status unknown device")
			return
		}
		s.noteRefused("status", err)
		return
	}
	s.log.Debug("device status", "topic", m.Topic(), "online", st.Online, "depth", st.Depth, "degraded", st.Degraded)
}

// onHealth checks and records a device's health report.
func (s *Server) onHealth(_ mqtt.Client, m mqtt.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := s.applier.Store.VerifyHealth(ctx, m.Topic(), m.Payload())
	if err != nil {
		s.noteRefused("health report", err)
		return
	}
	kept, err := s.applier.Store.RecordHealth(ctx, h, s.cfg.Instance, time.Now())
	if err != nil {
		s.log.Error("health report", "err", err)
		return
	}
	if !kept {
		s.count("health report older")
	}
}

func (s *Server) count(what string) {
	s.mu.Lock()
	s.refused[what]++
	s.mu.Unlock()
}
