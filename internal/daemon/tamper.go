package daemon

import (
	"context"
	"log/slog"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device/gpio"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/tamper"
)

// openTamper opens the tamper switch's flow (package tamper) on the store,
// with the lines it drives: the red LED stays on while the lock holds,
// also from a restart, and the buzzer sounds at an opening, so that the
// official or technician looks. pulse drives a line on for a while
// without blocking.
func openTamper(ctx context.Context, cfg *config.Daemon, lines gpio.Lines, store *outbox.Store, al *audit.Log, people *staff.Staff,
	pulse func(line string, d time.Duration), log *slog.Logger) (*tamper.Switch, error) {
	sw, err := tamper.Open(ctx, tamper.Config{Store: store, Audit: al, Staff: people, Policy: tamper.Policy(cfg.Tamper.Policy), Log: log,
		OnChange: func(st tamper.State) {
			if err := lines.Set(gpio.LineLEDRed, st.Locked); err != nil {
				log.Warn("red LED", "err", err)
			}
			if st.Open {
				pulse(gpio.LineBuzzer, time.Second)
			}
		}})
	if err != nil {
		return nil, err
	}
	if sw.State().Locked {
		if err := lines.Set(gpio.LineLEDRed, true); err != nil {
			log.Warn("red LED", "err", err)
		}
	}
	return sw, nil
}

// signalPayment drives the lines for a payment's new status: the green
// LED for an approval, the buzzer and the red LED for a decline or a
// reversal.
func signalPayment(p checkout.Payment, pulse func(line string, d time.Duration)) {
	switch p.Status {
	case checkout.StatusApproved, checkout.StatusApprovedOffline:
		pulse(gpio.LineLEDGreen, 500*time.Millisecond)
	case checkout.StatusDeclined, checkout.StatusReversed:
		pulse(gpio.LineBuzzer, 300*time.Millisecond)
		pulse(gpio.LineLEDRed, 500*time.Millisecond)
	}
}

// redKept are lines on which the red LED stays on while the tamper lock
// holds: a pulse of it (a decline's, the self-test's) ends on, and
// turning it off waits for the technician's clearing.
type redKept struct {
	gpio.Lines
	sw *tamper.Switch
}

func keepRed(l gpio.Lines, sw *tamper.Switch) gpio.Lines { return &redKept{Lines: l, sw: sw} }

// Set drives a line, but leaves the red LED on while locked.
func (l *redKept) Set(name string, on bool) error {
	if name == gpio.LineLEDRed && !on && l.sw.State().Locked {
		on = true
	}
	return l.Lines.Set(name, on)
}

// Pulse pulses a line, and puts the red LED back on if the lock holds.
func (l *redKept) Pulse(ctx context.Context, name string, d time.Duration) error {
	err := l.Lines.Pulse(ctx, name, d)
	if name == gpio.LineLEDRed && l.sw.State().Locked {
		if err := l.Lines.Set(name, true); err != nil {
			return err
		}
	}
	return err
}
