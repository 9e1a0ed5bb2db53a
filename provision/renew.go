package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/provision/claim"
)

// RenewerConfig sets up a Renewer.
type RenewerConfig struct {
	// StateDir is where the renewed certificate is written.
	StateDir    string
	Enrolment   *Enrolment
	Credentials *Credentials
	Key         Key
	// Publish sends on the link's own session (link.Link.Publish): the
	// broker knows the device by its certificate there, and a second
	// connection under the same name would push the link off.
	Publish func(ctx context.Context, topic string, payload []byte) error
	// Before says when the certificate is due (config enrolment.renew_before).
	Before config.RenewBefore
	// AnswerTimeout is how long to wait for the platform's answer (30s).
	AnswerTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between failed attempts
	// (5s and 10m).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// A Renewer keeps the device certificate current: when less than Before
// of it is left, it sends a claim.Renewal on the device's renew topic and
// takes the claim.Issued answer on its cert topic, which the link hands
// to Deliver. A certificate is taken only when it is for the same key and
// name, chains to the enrolment's CA and lasts longer than the current
// one; it is then written to disk and used from the next handshake on.
type Renewer struct {
	cfg     RenewerConfig
	log     *slog.Logger
	answers chan []byte
	renewed atomic.Uint64
}

// NewRenewer returns a renewer; Run starts it.
func NewRenewer(cfg RenewerConfig) (*Renewer, error) {
	if cfg.Enrolment == nil || cfg.Credentials == nil || cfg.Key == nil || cfg.Publish == nil || cfg.StateDir == "" {
		return nil, errors.New("provision: renewer: enrolment, credentials, key, publish and state dir are needed")
	}
	if cfg.Before == (config.RenewBefore{}) {
		cfg.Before = config.RenewBefore{Fraction: 1.0 / 3}
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = 30 * time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 5 * time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(10*time.Minute, cfg.MinBackoff)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Renewer{cfg: cfg, log: cfg.Logger.With("component", "renewer"), answers: make(chan []byte, 4)}, nil
}

// Topic is the topic whose messages go to Deliver.
func (r *Renewer) Topic() string {
	return claim.CertTopic(r.cfg.Enrolment.Tenant, r.cfg.Enrolment.Device)
}

// Deliver hands over a message from the cert topic. It never blocks:
// it runs in the link's loop, and an answer dropped is asked for again.
func (r *Renewer) Deliver(payload []byte) {
	select {
	case r.answers <- payload:
	default:
	}
}

// Renewed is how many certificates this renewer has taken.
func (r *Renewer) Renewed() uint64 { return r.renewed.Load() }

// Run renews the certificate whenever it is due, until ctx ends; it
// returns ctx's error.
func (r *Renewer) Run(ctx context.Context) error {
	attempt := 0
	for {
		leaf := r.cfg.Credentials.Leaf()
		due := r.cfg.Before.At(leaf.NotBefore, leaf.NotAfter)
		if d := time.Until(due); d > 0 {
			r.log.Debug("certificate renewal scheduled", "at", due, "not_after", leaf.NotAfter)
			if err := r.idle(ctx, d); err != nil {
				return err
			}
			continue
		}
		err := r.renew(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			attempt = 0
			continue
		}
		d := r.backoff(attempt)
		attempt++
		if time.Now().After(leaf.NotAfter) {
			r.log.Error("certificate expired: the brokers refuse the device until it is renewed or enrolled again",
				"not_after", leaf.NotAfter, "err", err, "retry_in", d.Round(time.Millisecond))
		} else {
			r.log.Warn("certificate renewal failed", "err", err, "not_after", leaf.NotAfter, "retry_in", d.Round(time.Millisecond))
		}
		if err := r.idle(ctx, d); err != nil {
			return err
		}
	}
}

// idle waits d, taking any answer that comes meanwhile (one sent late).
func (r *Renewer) idle(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case p := <-r.answers:
			err := r.take(p)
			if err == nil {
				return nil
			}
			r.log.Debug("unrequested certificate answer ignored", "err", err)
		}
	}
}

// errNoAnswer says the platform did not answer a renewal in time.
var errNoAnswer = errors.New("no answer from the platform")

// renew sends one renewal and waits for its answer.
func (r *Renewer) renew(ctx context.Context) error {
	e := r.cfg.Enrolment
	csr, err := newCSR(r.cfg.Key, claim.CommonName(e.Tenant, e.Device))
	if err != nil {
		return err
	}
	p, err := claim.Encode(claim.Renewal{V: claim.Version, CSR: csr})
	if err != nil {
		return err
	}
	if err := r.cfg.Publish(ctx, claim.RenewTopic(e.Tenant, e.Device), p); err != nil {
		return err
	}
	r.log.Info("certificate renewal sent", "not_after", r.cfg.Credentials.Leaf().NotAfter)
	t := time.NewTimer(r.cfg.AnswerTimeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("%w in %s", errNoAnswer, r.cfg.AnswerTimeout)
		case p := <-r.answers:
			err := r.take(p)
			var refused *claim.RefusedError
			if err == nil || errors.As(err, &refused) {
				return err
			}
			// Something else on the topic (a stale answer, say): wait on.
			r.log.Warn("certificate answer refused", "err", err)
		}
	}
}

// take checks an answer and, when its certificate is good and newer,
// writes it and swaps it in.
func (r *Renewer) take(p []byte) error {
	is, err := claim.DecodeIssued(p)
	if err != nil {
		return err
	}
	e := r.cfg.Enrolment
	cur := r.cfg.Credentials.Leaf()
	c, err := checkCert(is.Cert, r.cfg.Key.Public(), e.Pool, claim.CommonName(e.Tenant, e.Device), time.Now())
	if err != nil {
		return err
	}
	if !c.NotAfter.After(cur.NotAfter) {
		return fmt.Errorf("%w: it expires at %s, not later than the current one", ErrBadCertificate, c.NotAfter)
	}
	if err := saveCert(r.cfg.StateDir, c); err != nil {
		return err
	}
	r.cfg.Credentials.set(c)
	r.renewed.Add(1)
	r.log.Info("certificate renewed", "serial", c.SerialNumber.Text(16), "not_after", c.NotAfter)
	return nil
}

// backoff doubles from MinBackoff to MaxBackoff, with jitter on its upper
// half so a fleet does not come back in step.
func (r *Renewer) backoff(attempt int) time.Duration {
	d := r.cfg.MinBackoff
	for i := 0; i < attempt && d < r.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}
