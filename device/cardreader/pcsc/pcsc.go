// Package pcsc is the card reader driver for ICAO 9303 chips (e-passports,
// ICAO-compliant ID cards) in PC/SC readers, through Debian's pcscd and
// libpcsclite. It registers itself as card reader driver "pcsc".
//
// Each ReadCard waits for a card, takes it for the length of the read
// (SCardBeginTransaction), runs package icao over it (PACE with the MRZ
// data or the CAN when the chip's EF.CardAccess offers it, else BAC with
// the MRZ data; secure messaging, EF.COM, DG1, DG2, EF.SOD, passive
// authentication) and resets the card when done so that no secure
// messaging session outlives the read.
package pcsc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ebfe/scard"

	"github.com/guichet/guichet/device"
	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/icao"
	"github.com/guichet/guichet/eid/icao/apdu"
	"github.com/guichet/guichet/eid/icao/pa"
)

func init() {
	device.Register(cardreader.Drivers, "pcsc", func(ctx context.Context, o Options) (cardreader.Reader, error) {
		return Open(ctx, o)
	})
}

// Errors of the driver, besides those of icao (ErrAccessDenied,
// ErrWrongCAN, ErrNeedMRZ, ErrBadAnswer, ErrNotEMRTD) and pa
// (ErrHashMismatch, ErrSignature).
var (
	ErrNoReader    = errors.New("pcsc: no such card reader")
	ErrNoCard      = errors.New("pcsc: no card on the reader")
	ErrCardRemoved = errors.New("pcsc: card removed during the read")
	ErrNoService   = errors.New("pcsc: pcscd is not running")
)

// Options configure the driver, from the "options" of a card reader in the
// daemon's configuration.
type Options struct {
	// Reader is the PC/SC reader name, or a part of it; empty means the
	// reader at Index.
	Reader string `yaml:"reader"`
	// Index is the position of the reader in PC/SC's list when Reader is
	// empty; 0, the first, by default.
	Index int `yaml:"index"`
	// CSCA is a PEM or DER file, or a folder of them, holding the country
	// signing CA certificates that passive authentication trusts. Without
	// it no card is Verified.
	CSCA string `yaml:"csca"`
	// CardWait bounds how long ReadCard waits for a card to be presented;
	// 0 waits until its context ends.
	CardWait time.Duration `yaml:"card_wait"`
}

// Reader is an open PC/SC card reader.
type Reader struct {
	opts Options
	pool *pa.Pool

	mu  sync.Mutex // one read at a time; guards ctx
	ctx *scard.Context
}

// Open connects to pcscd and loads the CSCA list. The reader itself is
// looked up at each read, as USB readers come and go.
func Open(_ context.Context, o Options) (*Reader, error) {
	r := &Reader{opts: o}
	if o.CSCA != "" {
		p, err := pa.LoadPool(o.CSCA)
		if err != nil {
			return nil, err
		}
		r.pool = p
	}
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, mapErr(err)
	}
	r.ctx = c
	return r, nil
}

// Close releases the PC/SC context.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil {
		return nil
	}
	err := r.ctx.Release()
	r.ctx = nil
	return err
}

// mapErr turns PC/SC errors into the driver's.
func mapErr(err error) error {
	var se scard.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se {
	case scard.ErrNoService, scard.ErrServiceStopped:
		return fmt.Errorf("%w: %v", ErrNoService, err)
	case scard.ErrNoReadersAvailable, scard.ErrUnknownReader, scard.ErrReaderUnavailable:
		return fmt.Errorf("%w: %v", ErrNoReader, err)
	case scard.ErrNoSmartcard:
		return fmt.Errorf("%w: %v", ErrNoCard, err)
	case scard.ErrRemovedCard, scard.ErrResetCard, scard.ErrUnpoweredCard, scard.ErrUnresponsiveCard, scard.ErrNotTransacted, scard.ErrCommError:
		return fmt.Errorf("%w: %v", ErrCardRemoved, err)
	}
	return fmt.Errorf("pcsc: %w", err)
}

// context returns a valid PC/SC context, establishing a new one if pcscd
// restarted since the last read.
func (r *Reader) context() (*scard.Context, error) {
	if r.ctx == nil {
		return nil, errors.New("pcsc: reader closed")
	}
	if ok, _ := r.ctx.IsValid(); ok {
		return r.ctx, nil
	}
	r.ctx.Release()
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, mapErr(err)
	}
	r.ctx = c
	return c, nil
}

// resolve finds the configured reader among those PC/SC lists.
func (r *Reader) resolve(c *scard.Context) (string, error) {
	names, err := c.ListReaders()
	if err != nil {
		return "", mapErr(err)
	}
	if r.opts.Reader != "" {
		for _, n := range names {
			if n == r.opts.Reader {
				return n, nil
			}
		}
		for _, n := range names {
			if strings.Contains(n, r.opts.Reader) {
				return n, nil
			}
		}
		return "", fmt.Errorf("%w: %q not among %q", ErrNoReader, r.opts.Reader, names)
	}
	if r.opts.Index < 0 || r.opts.Index >= len(names) {
		return "", fmt.Errorf("%w: index %d, %d readers", ErrNoReader, r.opts.Index, len(names))
	}
	return names[r.opts.Index], nil
}

// waitCard blocks until a card is present on reader, ctx ends, or
// CardWait passes.
func (r *Reader) waitCard(ctx context.Context, c *scard.Context, reader string) error {
	var deadline time.Time
	if r.opts.CardWait > 0 {
		deadline = time.Now().Add(r.opts.CardWait)
	}
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	for {
		// Short slices keep ctx responsive without sharing the PC/SC
		// context with a canceller goroutine.
		err := c.GetStatusChange(rs, 100*time.Millisecond)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			return mapErr(err)
		}
		st := rs[0].EventState
		switch {
		case st&(scard.StateUnknown|scard.StateUnavailable) != 0:
			return fmt.Errorf("%w: %q went away", ErrNoReader, reader)
		case st&scard.StatePresent != 0 && st&scard.StateMute == 0:
			return nil
		}
		rs[0].CurrentState = st &^ scard.StateChanged
		if err := ctx.Err(); err != nil {
			return err
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("%w: %q, waited %v", ErrNoCard, reader, r.opts.CardWait)
		}
	}
}

// ReadCard waits for a card on the reader and reads it with the MRZ data
// or the CAN in access (icao.ReadCard says which is used when). The card is
// Verified only if passive authentication succeeded against the configured
// CSCAs.
func (r *Reader) ReadCard(ctx context.Context, access cardreader.Access) (*cardreader.Card, error) {
	if err := icao.CheckAccess(toAccess(access)); err != nil {
		return nil, fmt.Errorf("pcsc: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.context()
	if err != nil {
		return nil, err
	}
	reader, err := r.resolve(c)
	if err != nil {
		return nil, err
	}
	if err := r.waitCard(ctx, c, reader); err != nil {
		return nil, err
	}
	start := time.Now()
	card, err := c.Connect(reader, scard.ShareShared, scard.ProtocolAny)
	if err != nil {
		return nil, mapErr(err)
	}
	// Reset on the way out: the chip drops its session keys and the
	// selected application, so the next application starts clean.
	defer card.Disconnect(scard.ResetCard)
	if err := card.BeginTransaction(); err != nil {
		return nil, mapErr(err)
	}
	defer card.EndTransaction(scard.LeaveCard)

	t := apdu.TransmitFunc(func(ctx context.Context, cmd []byte) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		resp, err := card.Transmit(cmd)
		if err != nil {
			return nil, mapErr(err)
		}
		if len(resp) == 0 {
			// Every response APDU carries a status word; vpcd and some
			// readers pass on nothing when the card leaves mid-command.
			return nil, fmt.Errorf("%w: no answer from the card", ErrCardRemoved)
		}
		return resp, nil
	})
	doc, err := icao.ReadCard(ctx, t, toAccess(access), icao.Options{CSCA: r.pool})
	if err != nil {
		slog.Warn("pcsc: card read failed", "reader", reader, "err", err)
		return nil, err
	}
	if doc.PACEFailed != nil {
		// Worth knowing: a chip that offers PACE but was read with BAC
		// is a wrong CAN, or a chip or reader out of the standard.
		slog.Warn("pcsc: PACE failed, read with BAC", "reader", reader, "reason", doc.PACEFailed)
	}
	// The log carries no personal data: outcome and timing only.
	slog.Info("pcsc: card read", "reader", reader, "access", doc.Access, "verified", doc.Verified, "photo_bytes", len(doc.Files[2]), "ms", time.Since(start).Milliseconds())
	if doc.Unverified != nil {
		slog.Warn("pcsc: card not verified", "reader", reader, "reason", doc.Unverified)
	}
	return toDevice(doc.Holder(time.Now())), nil
}

// Probe finds the configured reader and reports whether a card is on it,
// with its ATR, without connecting to the card.
func (r *Reader) Probe(ctx context.Context) (cardreader.Presence, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return cardreader.Presence{}, err
	}
	c, err := r.context()
	if err != nil {
		return cardreader.Presence{}, err
	}
	reader, err := r.resolve(c)
	if err != nil {
		return cardreader.Presence{}, err
	}
	rs := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	if err := c.GetStatusChange(rs, 0); err != nil && !errors.Is(err, scard.ErrTimeout) {
		return cardreader.Presence{}, mapErr(err)
	}
	st := rs[0].EventState
	if st&(scard.StateUnknown|scard.StateUnavailable) != 0 {
		return cardreader.Presence{}, fmt.Errorf("%w: %q went away", ErrNoReader, reader)
	}
	p := cardreader.Presence{Reader: reader, Card: st&scard.StatePresent != 0}
	if p.Card {
		p.ATR = append([]byte(nil), rs[0].Atr...)
	}
	return p, nil
}
