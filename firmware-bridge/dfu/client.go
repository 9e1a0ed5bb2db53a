package dfu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/guichet/guichet/firmware-bridge/manifest"
	"github.com/guichet/guichet/firmware-bridge/portread"
)

// Errors of the Client, wrapped with details; a peripheral's refusal is its
// Status (test with errors.Is(err, dfu.StatusDowngrade)).
var (
	// ErrNoReply: the peripheral did not answer in time, after the retries.
	ErrNoReply = errors.New("dfu: no reply")
	// ErrClosed: the client was closed or its port failed.
	ErrClosed = errors.New("dfu: port closed")
	// ErrReverted: the new image did not answer, or not in time, and the
	// peripheral went back to its previous image by itself.
	ErrReverted = errors.New("dfu: the new image did not answer; the peripheral reverted")
)

// Options tune a Client. The zero value gives the defaults.
type Options struct {
	// Baud is the line's rate, from which each exchange's wire time is
	// reckoned; 0 means 115200.
	Baud int
	// Timeout is how long a reply may take beyond its wire time; 0 means
	// 500 ms.
	Timeout time.Duration
	// Retries is how many times a command is sent again after no reply
	// or a NAK; 0 means 3, a negative value none.
	Retries int
	// ChunkSize caps the chunk size below the peripheral's maximum; 0
	// takes the peripheral's.
	ChunkSize int
	// BootWait bounds the wait, after ACTIVATE, for the new image to
	// answer, or for the old one to be back. It must exceed the
	// peripheral's test window plus its boot time, or a revert shows as
	// ErrNoReply rather than ErrReverted; 0 means 10 s.
	BootWait time.Duration
	// PollInterval is the pause between two PINGs while the peripheral
	// boots; 0 means 100 ms.
	PollInterval time.Duration
	// Logger receives retries and NAKs at debug level; nil means
	// slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Baud <= 0 {
		o.Baud = 115200
	}
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	switch {
	case o.Retries == 0:
		o.Retries = 3
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.BootWait <= 0 {
		o.BootWait = 10 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Client speaks to one peripheral. Its methods may be called from several
// goroutines; exchanges are serialised.
type Client struct {
	port io.ReadWriter
	opts Options

	mu   sync.Mutex // serialises exchanges; guards dec, seq and counts
	dec  Decoder
	seq  byte
	naks int
	sent int // frames written, retries included

	// r reads the port in a goroutine of its own, so that an exchange
	// can give up on a silent peripheral.
	r *portread.Reader
}

// New returns a client of the peripheral on port. It starts a goroutine
// that reads port until Close.
func New(port io.ReadWriter, opts Options) *Client {
	c := &Client{port: port, opts: opts.withDefaults(), r: portread.Start(port)}
	return c
}

// Close stops the client. It closes port if port is an io.Closer, which
// ends the read in progress, and waits for the reading goroutine.
func (c *Client) Close() error { return c.r.Close() }

func (c *Client) portErr() error {
	if err := c.r.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return ErrClosed
}

func (c *Client) wire(n int) time.Duration {
	return time.Duration(n) * 10 * time.Second / time.Duration(c.opts.Baud)
}

// exchange sends cmd with payload and returns the reply's payload, sending
// again after a NAK or no reply, up to retries times.
func (c *Client) exchange(ctx context.Context, cmd Type, payload []byte, retries int) ([]byte, error) {
	return c.exchangeWithin(ctx, cmd, payload, retries, c.opts.Timeout)
}

// exchangeWithin is exchange waiting patience beyond the wire time.
func (c *Client) exchangeWithin(ctx context.Context, cmd Type, payload []byte, retries int, patience time.Duration) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	timeout := c.wire(len(payload)+Overhead+InfoLen+Overhead) + patience
	var last error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			c.opts.Logger.Debug("dfu: resending", "command", cmd.String(), "attempt", attempt+1, "err", last)
		}
		p, err := c.once(ctx, cmd, payload, timeout)
		if err == nil || !(errors.Is(err, ErrNoReply) || errors.Is(err, StatusBadFrame)) || ctx.Err() != nil {
			return p, err
		}
		last = err
	}
	if retries == 0 {
		return nil, last
	}
	return nil, fmt.Errorf("%w (after %d attempts)", last, retries+1)
}

// once sends cmd and waits for its reply: the frame of the reply type with
// the same seq, or a NAK. Anything else is a stale reply and dropped.
func (c *Client) once(ctx context.Context, cmd Type, payload []byte, timeout time.Duration) ([]byte, error) {
	select {
	case <-c.r.Done():
		return nil, fmt.Errorf("dfu: %s: %w", cmd, c.portErr())
	default:
	}
	c.drain()
	c.seq++
	c.sent++
	if _, err := c.port.Write(AppendFrame(nil, cmd, c.seq, payload)); err != nil {
		return nil, fmt.Errorf("dfu: %s: writing: %w", cmd, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		for {
			f, err := c.dec.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			switch {
			case err != nil:
				// A damaged reply: wait for the timeout and send again.
			case f.Type == NAK:
				c.naks++
				off, _ := ParseOffset(f.Payload)
				c.opts.Logger.Debug("dfu: NAK", "command", cmd.String(), "offset", off)
				return nil, fmt.Errorf("dfu: %s: %w", cmd, StatusBadFrame)
			case f.Type == cmd|ReplyFlag && f.Seq == c.seq:
				return f.Payload, nil
			}
		}
		select {
		case b := <-c.r.Chunks():
			c.dec.Write(b)
		case <-t.C:
			return nil, fmt.Errorf("dfu: %s: %w in %v", cmd, ErrNoReply, timeout)
		case <-c.r.Done():
			return nil, fmt.Errorf("dfu: %s: %w", cmd, c.portErr())
		case <-ctx.Done():
			return nil, fmt.Errorf("dfu: %s: %w", cmd, ctx.Err())
		}
	}
}

// drain drops what arrived between exchanges, except a frame cut in the
// middle, whose rest the decoder needs to find the next sync.
func (c *Client) drain() {
	for {
		select {
		case b := <-c.r.Chunks():
			c.dec.Write(b)
		default:
			for {
				if _, err := c.dec.Next(); errors.Is(err, ErrIncomplete) {
					return
				}
			}
		}
	}
}

// sends reports how many frames were written so far.
func (c *Client) sends() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// Info asks the peripheral for its state.
func (c *Client) Info(ctx context.Context) (Info, error) {
	p, err := c.exchange(ctx, CmdInfo, nil, c.opts.Retries)
	if err != nil {
		return Info{}, err
	}
	i, err := ParseInfo(p)
	if err != nil {
		return Info{}, fmt.Errorf("dfu: INFO: %w", err)
	}
	return i, nil
}

// Ping asks the running application to answer; a peripheral with none
// answers StatusNoImage.
func (c *Client) Ping(ctx context.Context) (Pong, error) {
	return c.ping(ctx, c.opts.Retries, c.opts.Timeout)
}

func (c *Client) ping(ctx context.Context, retries int, patience time.Duration) (Pong, error) {
	p, err := c.exchangeWithin(ctx, CmdPing, nil, retries, patience)
	if err != nil {
		return Pong{}, err
	}
	r, err := ParsePong(p)
	if err != nil && !errors.As(err, new(Status)) {
		return Pong{}, fmt.Errorf("dfu: PING: %w", err)
	}
	return r, err
}

// Confirm makes the image running in test mode permanent; it returns the
// security counter the peripheral stored.
func (c *Client) Confirm(ctx context.Context) (uint32, error) {
	p, err := c.exchange(ctx, CmdConfirm, nil, c.opts.Retries)
	if err != nil {
		return 0, err
	}
	n, err := ParseOffset(p)
	if err != nil {
		return 0, fmt.Errorf("dfu: CONFIRM: %w", err)
	}
	return n, nil
}

// Phase is a step of Update.
type Phase string

// Phases of Update, in order.
const (
	PhaseConnect  Phase = "connect"  // INFO
	PhaseTransfer Phase = "transfer" // BEGIN and DATA
	PhaseVerify   Phase = "verify"   // VERIFY
	PhaseActivate Phase = "activate" // ACTIVATE
	PhaseBoot     Phase = "boot"     // waiting for the new image to answer PING
	PhaseConfirm  Phase = "confirm"  // CONFIRM
	PhaseDone     Phase = "done"
)

// Progress is reported to Update's callback at each phase and each
// acknowledged chunk. A technician's screen draws its bar from Done and
// Total.
type Progress struct {
	Phase Phase
	// Done and Total count the image's bytes the peripheral holds.
	Done, Total int64
	// From is the offset the transfer resumed from (0 for a fresh one).
	From int64
	// Elapsed is the time since Update started.
	Elapsed time.Duration
}

// Result sums up an Update.
type Result struct {
	// From is the offset the peripheral resumed the transfer from.
	From int64
	// Chunks counts the DATA commands sent, retries included.
	Chunks int
	// NAKs counts the NAKs received (frames the peripheral could not decode).
	NAKs int
	// Counter is the security counter stored after CONFIRM.
	Counter uint32
	// Version is the version now running.
	Version manifest.Version
	// AlreadyInstalled: the image was running confirmed already; nothing
	// was sent.
	AlreadyInstalled bool
	// Transfer is the time BEGIN to the last chunk's ack.
	Transfer time.Duration
}

// Update installs image, described by the signed manifest, on the
// peripheral: it uploads what the peripheral does not hold yet (resuming
// where an interrupted upload of the same manifest stopped), has it
// verified and activated, waits for the new image to answer in test mode
// and confirms it. progress, if not nil, is called from Update's goroutine
// and must not block.
//
// After an error Update can be called again with the same manifest and
// image: it picks up where the peripheral stands (a partial upload, or an
// image already in test mode that only needs its confirm).
func (c *Client) Update(ctx context.Context, manifestBytes, image []byte, progress func(Progress)) (res Result, err error) {
	start := time.Now()
	m, err := manifest.Parse(manifestBytes)
	if err != nil {
		return res, fmt.Errorf("dfu: %w", err)
	}
	if err := m.Matches(image); err != nil {
		return res, fmt.Errorf("dfu: %w", err)
	}
	total := int64(m.Size)
	report := func(ph Phase, done int64) {
		if progress != nil {
			progress(Progress{Phase: ph, Done: done, Total: total, From: res.From, Elapsed: time.Since(start)})
		}
	}
	defer func() {
		c.mu.Lock()
		res.NAKs = c.naks
		c.mu.Unlock()
	}()
	c.mu.Lock()
	c.naks = 0
	c.mu.Unlock()

	report(PhaseConnect, 0)
	info, err := c.Info(ctx)
	if err != nil {
		return res, err
	}
	if info.Protocol != ProtocolVersion {
		return res, fmt.Errorf("dfu: the peripheral speaks protocol %d, this host %d", info.Protocol, ProtocolVersion)
	}
	if info.Mode == ModeApplication && info.Digest == m.Digest {
		switch info.Image {
		case ImageConfirmed:
			res.AlreadyInstalled, res.Counter, res.Version = true, info.Counter, info.Version
			report(PhaseDone, total)
			return res, nil
		case ImageTest:
			// Activated before the link was lost: only the confirm is missing.
			return c.confirmNew(ctx, m, &res, report)
		}
	}

	report(PhaseTransfer, 0)
	t0 := time.Now()
	p, err := c.exchange(ctx, CmdBegin, manifestBytes, c.opts.Retries)
	if err != nil {
		return res, fmt.Errorf("dfu: BEGIN: %w", err)
	}
	off, err := ParseOffset(p)
	if err != nil {
		return res, fmt.Errorf("dfu: BEGIN: %w", err)
	}
	if off > m.Size {
		return res, fmt.Errorf("dfu: BEGIN: %w: resume offset %d beyond the image's %d bytes", ErrReply, off, m.Size)
	}
	res.From = int64(off)
	chunk := int(info.MaxChunk)
	if c.opts.ChunkSize > 0 {
		chunk = min(chunk, c.opts.ChunkSize)
	}
	chunk = min(chunk, MaxChunk)
	report(PhaseTransfer, int64(off))
	buf := make([]byte, 0, 4+chunk)
	stalls := 0
	// A peripheral that keeps sending the host back cannot keep it sending
	// for ever: twice the image, and the retries, is plenty.
	budget := 2*((int(m.Size)+chunk-1)/chunk) + 4*(c.opts.Retries+1)
	for off < m.Size {
		if res.Chunks > budget {
			return res, fmt.Errorf("dfu: DATA at %d: the peripheral asked for %d chunks of an image of %d", off, res.Chunks, (int(m.Size)+chunk-1)/chunk)
		}
		end := min(uint64(off)+uint64(chunk), uint64(m.Size))
		buf = AppendData(buf[:0], off, image[off:end])
		sent := c.sends()
		p, err := c.exchange(ctx, CmdData, buf, c.opts.Retries)
		res.Chunks += c.sends() - sent
		if err != nil {
			return res, fmt.Errorf("dfu: DATA at %d: %w", off, err)
		}
		next, err := ParseOffset(p)
		switch {
		case errors.Is(err, StatusOffset) && next <= m.Size:
			// The peripheral wants another offset: it is authoritative.
		case err != nil:
			return res, fmt.Errorf("dfu: DATA at %d: %w", off, err)
		case next > m.Size:
			return res, fmt.Errorf("dfu: DATA at %d: %w: next offset %d beyond the image", off, ErrReply, next)
		}
		if next <= off {
			// No progress: bounded, so a confused peripheral cannot keep
			// the host sending for ever.
			if stalls++; stalls > c.opts.Retries+1 {
				return res, fmt.Errorf("dfu: DATA at %d: the peripheral makes no progress (wants %d)", off, next)
			}
		} else {
			stalls = 0
		}
		off = next
		report(PhaseTransfer, int64(off))
	}
	res.Transfer = time.Since(t0)

	report(PhaseVerify, total)
	if p, err = c.exchange(ctx, CmdVerify, nil, c.opts.Retries); err == nil {
		err = ParseStatus(p)
	}
	if err != nil {
		return res, fmt.Errorf("dfu: VERIFY: %w", err)
	}
	report(PhaseActivate, total)
	if p, err = c.exchange(ctx, CmdActivate, nil, c.opts.Retries); err == nil {
		err = ParseStatus(p)
	}
	if errors.Is(err, StatusState) && c.runs(ctx, m, ImageTest) {
		// The reply was lost and the resend found the image booted.
		err = nil
	}
	if err != nil {
		return res, fmt.Errorf("dfu: ACTIVATE: %w", err)
	}
	return c.confirmNew(ctx, m, &res, report)
}

// runs reports whether the image of m runs in state st.
func (c *Client) runs(ctx context.Context, m *manifest.Manifest, st ImageState) bool {
	i, err := c.Info(ctx)
	return err == nil && i.Mode == ModeApplication && i.Image == st && i.Digest == m.Digest
}

// confirmNew waits for the image of m to answer in test mode and confirms
// it. An answer from another image means the peripheral reverted.
func (c *Client) confirmNew(ctx context.Context, m *manifest.Manifest, res *Result, report func(Phase, int64)) (Result, error) {
	total := int64(m.Size)
	report(PhaseBoot, total)
	deadline := time.Now().Add(c.opts.BootWait)
	var last error
	for {
		// No retries: a booting peripheral drops the PING, and the loop
		// sends the next one.
		pong, err := c.ping(ctx, 0, c.opts.Timeout)
		switch {
		case err == nil && pong.Digest == m.Digest && pong.Image == ImageTest:
			report(PhaseConfirm, total)
			n, err := c.Confirm(ctx)
			if errors.Is(err, StatusNotInTest) && c.runs(ctx, m, ImageConfirmed) {
				// The reply was lost and the resend found it confirmed.
				var info Info
				info, err = c.Info(ctx)
				n = info.Counter
			}
			if err != nil {
				return *res, err
			}
			res.Counter, res.Version = n, m.Version
			report(PhaseDone, total)
			return *res, nil
		case err == nil && pong.Digest == m.Digest:
			// Confirmed already (a CONFIRM whose reply was lost).
			res.Version = m.Version
			info, err := c.Info(ctx)
			if err != nil {
				return *res, err
			}
			res.Counter = info.Counter
			report(PhaseDone, total)
			return *res, nil
		case err == nil:
			return *res, fmt.Errorf("%w: version %s runs", ErrReverted, pong.Version)
		case errors.Is(err, StatusNoImage):
			return *res, fmt.Errorf("%w: no image runs, the bootloader waits for one", ErrReverted)
		case ctx.Err() != nil:
			return *res, fmt.Errorf("dfu: waiting for the new image: %w", ctx.Err())
		case errors.Is(err, ErrClosed):
			return *res, err
		}
		last = err
		if time.Now().After(deadline) {
			return *res, fmt.Errorf("dfu: the peripheral did not answer within %v after ACTIVATE: %w", c.opts.BootWait, last)
		}
		t := time.NewTimer(c.opts.PollInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return *res, fmt.Errorf("dfu: waiting for the new image: %w", ctx.Err())
		}
	}
}

// Fraction is the share of the image the peripheral holds, 0 to 1.
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return 0
	}
	return float64(p.Done) / float64(p.Total)
}

// Rate is the transfer's speed so far in bytes a second, counting only the
// bytes sent in this run (not those the peripheral held at its start).
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 || p.Done <= p.From {
		return 0
	}
	return float64(p.Done-p.From) / p.Elapsed.Seconds()
}

// Remaining estimates the time left in the transfer at the current rate;
// 0 when there is no estimate yet.
func (p Progress) Remaining() time.Duration {
	r := p.Rate()
	if r == 0 {
		return 0
	}
	return time.Duration(float64(p.Total-p.Done) / r * float64(time.Second))
}
