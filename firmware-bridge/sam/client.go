// Package sam speaks to the "SAM" security module of Chinese resident-ID
// card readers over a byte stream, usually a UART at 115200 8N1.
//
// The host sends commands (table 9 of the Ministry of Public Security's SAM
// module communication protocol), the module answers each with a status
// word and data, in the frames of package firmware-bridge/frame. Reading a
// card is four exchanges: status check (11 FF), find card (20 01, success
// status 9F), select card (20 02) and read base information (30 01), which
// returns the 256-byte text block and the 1024-byte WLT photo. The module
// has authenticated the card when it answers the last one, so the card data
// it returns is vouched for.
//
// Client adds what the wire does not give: a timeout on every exchange, so a
// slow or silent module does not hang the caller; resending a command when
// the reply was lost or corrupted, or when the module says the command
// reached it corrupted; polling for a card until one is presented; and the
// checks of the card data (ID number check character and its agreement with
// the other fields).
package sam

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/guichet/guichet/firmware-bridge/frame"

	"github.com/guichet/guichet/firmware-bridge/portread"
)

// Errors of the exchange with the module, wrapped with details.
var (
	// ErrNoReply: the module did not answer, or not completely, in time.
	ErrNoReply = errors.New("sam: no reply")
	// ErrMalformed: a well-framed reply whose content does not fit the
	// command (no status word, lengths that do not add up).
	ErrMalformed = errors.New("sam: malformed reply")
	// ErrClosed: the client was closed or its port failed.
	ErrClosed = errors.New("sam: port closed")
)

// Options tune a Client. The zero value gives the defaults.
type Options struct {
	// Timeout bounds one exchange but reading the card; 0 means 500 ms.
	Timeout time.Duration
	// ReadTimeout bounds the read base information exchange, for which
	// the module reads the card over the air first; 0 means 3 s.
	ReadTimeout time.Duration
	// Retries is how many times a command is sent again after a lost,
	// corrupted or short reply, or after the module reported a checksum or
	// length error; 0 means 2, a negative value none.
	Retries int
	// PollInterval is the pause between two searches for a card; 0 means
	// 200 ms.
	PollInterval time.Duration
	// Photo decodes the WLT photo; nil leaves it as bytes of format "wlt".
	Photo PhotoDecoder
	// Logger receives the retries, at debug level; nil means
	// slog.Default(). Nothing read from a card is ever logged.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 3 * time.Second
	}
	switch {
	case o.Retries == 0:
		o.Retries = 2
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Reply is the module's answer to a command.
type Reply struct {
	SW1, SW2 byte
	Status   Status
	Data     []byte
}

// Client exchanges commands with one module. Its methods may be called from
// several goroutines; exchanges are serialised.
type Client struct {
	port io.ReadWriter
	opts Options

	mu  sync.Mutex // serialises exchanges and guards dec and staleUntil
	dec frame.Decoder
	// staleUntil is when the reply to an abandoned command can no longer
	// come: the next exchange waits for it, or for that time, first.
	staleUntil time.Time

	// r reads the port in a goroutine of its own, so that an exchange
	// can give up on a silent peripheral.
	r *portread.Reader
}

// New returns a client of the module on port. It starts a goroutine that
// reads port for the client's lifetime, so that exchanges can give up on a
// silent module: Close stops it.
func New(port io.ReadWriter, opts Options) *Client {
	c := &Client{
		port: port,
		opts: opts.withDefaults(),
		r:    portread.Start(port),
	}
	return c
}

// Close stops the client. It closes port if port is an io.Closer, which
// ends the read in progress, and waits for the reading goroutine; for a port
// that is not an io.Closer, that goroutine ends at the port's next read.
func (c *Client) Close() error { return c.r.Close() }

// Exchange sends cmd with data and returns the module's reply. A status
// other than success (90, or 9F for find card) is returned as a
// *StatusError; the success status of the wrong command as ErrMalformed. Lost, corrupted and short replies, and the module's own
// checksum and length errors, are retried as Options.Retries says.
func (c *Client) Exchange(ctx context.Context, cmd Command, data []byte) (Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	timeout := c.opts.Timeout
	if cmd == CmdReadBase {
		timeout = c.opts.ReadTimeout
	}
	var last error
	for attempt := 0; attempt <= c.opts.Retries; attempt++ {
		if attempt > 0 {
			c.opts.Logger.Debug("sam: resending command", "command", cmd.String(), "attempt", attempt+1, "err", last)
			// Let the rest of a bad reply pass, so it is not taken for
			// the answer to the command sent again.
			if err := c.settle(ctx, c.opts.Timeout/10, timeout); err != nil {
				return Reply{}, fmt.Errorf("sam: %s: %w", cmd, err)
			}
		} else if err := c.awaitStale(ctx); err != nil {
			return Reply{}, fmt.Errorf("sam: %s: %w", cmd, err)
		}
		sent := time.Now()
		rep, err := c.once(ctx, cmd, data, timeout)
		var se *StatusError
		switch {
		case err == nil || errors.As(err, &se):
			c.staleUntil = time.Time{}
		case ctx.Err() != nil:
			// Abandoned: the module may answer until the timeout.
			c.staleUntil = sent.Add(timeout)
		default:
			// Damaged or late: what is left of it comes soon, if at all.
			c.staleUntil = time.Now().Add(c.opts.Timeout / 10)
		}
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return rep, err
		}
		last = err
	}
	if c.opts.Retries == 0 {
		return Reply{}, last
	}
	return Reply{}, fmt.Errorf("%w (after %d attempts)", last, c.opts.Retries+1)
}

func retryable(err error) bool {
	return errors.Is(err, ErrNoReply) || errors.Is(err, ErrMalformed) ||
		errors.Is(err, frame.ErrChecksum) || errors.Is(err, frame.ErrTooLong) || errors.Is(err, frame.ErrTooShort) ||
		errors.Is(err, StatusChecksum) || errors.Is(err, StatusLength)
}

// discard drops what arrived between exchanges: it cannot be a reply.
func (c *Client) discard() {
	for {
		select {
		case <-c.r.Chunks():
		default:
			c.dec.Reset()
			return
		}
	}
}

// awaitStale waits until the reply to an abandoned command has come, or
// can no longer come, and discards it with whatever else arrived.
func (c *Client) awaitStale(ctx context.Context) error {
	defer c.discard()
	if c.staleUntil.IsZero() {
		return nil
	}
	t := time.NewTimer(time.Until(c.staleUntil))
	defer t.Stop()
	for {
		for {
			_, err := c.dec.Next()
			if err == nil {
				c.staleUntil = time.Time{}
				return nil
			}
			if errors.Is(err, frame.ErrIncomplete) {
				break
			}
		}
		select {
		case chunk := <-c.r.Chunks():
			c.dec.Write(chunk)
		case <-t.C:
			c.staleUntil = time.Time{}
			return nil
		case <-c.r.Done():
			return c.portErr()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// settle discards bytes until the line has been quiet for d, or for at
// most limit on a line that does not stop talking.
func (c *Client) settle(ctx context.Context, d, limit time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	end := time.NewTimer(limit)
	defer end.Stop()
	for {
		select {
		case <-c.r.Chunks():
			t.Reset(d)
		case <-end.C:
			c.discard()
			return nil
		case <-t.C:
			c.dec.Reset()
			return nil
		case <-c.r.Done():
			c.dec.Reset()
			return c.portErr()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Client) portErr() error {
	if err := c.r.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return ErrClosed
}

// once sends cmd once and waits for one reply frame.
func (c *Client) once(ctx context.Context, cmd Command, data []byte, timeout time.Duration) (Reply, error) {
	if err := ctx.Err(); err != nil {
		return Reply{}, fmt.Errorf("sam: %s: %w", cmd, err)
	}
	select {
	case <-c.r.Done():
		return Reply{}, fmt.Errorf("sam: %s: %w", cmd, c.portErr())
	default:
	}
	body := append([]byte{byte(cmd >> 8), byte(cmd)}, data...)
	if _, err := c.port.Write(frame.Encode(body)); err != nil {
		return Reply{}, fmt.Errorf("sam: %s: writing: %w", cmd, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		b, err := c.dec.Next()
		if err == nil {
			return parseReply(cmd, b)
		}
		if !errors.Is(err, frame.ErrIncomplete) {
			return Reply{}, fmt.Errorf("sam: %s: reply: %w", cmd, err)
		}
		select {
		case chunk := <-c.r.Chunks():
			c.dec.Write(chunk)
		case <-c.r.Done():
			// Take what the goroutine handed over before it stopped.
			select {
			case chunk := <-c.r.Chunks():
				c.dec.Write(chunk)
				continue
			default:
			}
			return Reply{}, fmt.Errorf("sam: %s: %w", cmd, c.portErr())
		case <-t.C:
			if n := c.dec.Buffered(); n > 0 {
				return Reply{}, fmt.Errorf("sam: %s: %w within %v: %d bytes received, at least %d missing",
					cmd, ErrNoReply, timeout, n, c.dec.Need())
			}
			return Reply{}, fmt.Errorf("sam: %s: %w within %v", cmd, ErrNoReply, timeout)
		case <-ctx.Done():
			return Reply{}, fmt.Errorf("sam: %s: %w", cmd, ctx.Err())
		}
	}
}

func parseReply(cmd Command, b []byte) (Reply, error) {
	if len(b) < 3 {
		return Reply{}, fmt.Errorf("sam: %s: %w: %d bytes, no status word", cmd, ErrMalformed, len(b))
	}
	r := Reply{SW1: b[0], SW2: b[1], Status: Status(b[2]), Data: b[3:]}
	success := StatusOK
	if cmd == CmdFindCard {
		success = StatusFound
	}
	switch r.Status {
	case success:
	case StatusOK, StatusFound:
		// The success of another command: a stray reply, not ours.
		return r, fmt.Errorf("sam: %s: %w: success status %02X belongs to another command", cmd, ErrMalformed, byte(r.Status))
	default:
		return r, &StatusError{Command: cmd, SW1: r.SW1, SW2: r.SW2, Status: r.Status}
	}
	if cmd == CmdReadBase {
		if _, _, err := splitBase(r.Data); err != nil {
			return r, fmt.Errorf("sam: %s: %w", cmd, err)
		}
	}
	return r, nil
}

// splitBase cuts the data of read base information: the lengths of the
// text and the photo (2 bytes each, big-endian), the text, the photo.
func splitBase(d []byte) (text, photo []byte, err error) {
	if len(d) < 4 {
		return nil, nil, fmt.Errorf("%w: %d bytes of data, no lengths", ErrMalformed, len(d))
	}
	tl, pl := int(binary.BigEndian.Uint16(d)), int(binary.BigEndian.Uint16(d[2:]))
	if got := len(d) - 4; got != tl+pl {
		return nil, nil, fmt.Errorf("%w: lengths announce %d+%d bytes, %d came", ErrMalformed, tl, pl, got)
	}
	return d[4 : 4+tl], d[4+tl:], nil
}

// Reset resets the SAM (10 FF).
func (c *Client) Reset(ctx context.Context) error {
	_, err := c.Exchange(ctx, CmdReset, nil)
	return err
}

// Status checks that the module is ready (11 FF).
func (c *Client) Status(ctx context.Context) error {
	_, err := c.Exchange(ctx, CmdStatus, nil)
	return err
}

// FindCard searches once for a card in the field (20 01). No card is an
// error wrapping StatusNoCard.
func (c *Client) FindCard(ctx context.Context) error {
	_, err := c.Exchange(ctx, CmdFindCard, nil)
	return err
}

// SelectCard selects the card found (20 02).
func (c *Client) SelectCard(ctx context.Context) error {
	_, err := c.Exchange(ctx, CmdSelectCard, nil)
	return err
}

// ReadBase reads the selected card's fixed information (30 01): the text
// block and the WLT photo.
func (c *Client) ReadBase(ctx context.Context) (text, photo []byte, err error) {
	r, err := c.Exchange(ctx, CmdReadBase, nil)
	if err != nil {
		return nil, nil, err
	}
	return splitBase(r.Data)
}

// ReadCard checks the module, waits for a card, selects and reads it, and
// returns its data (see Text.Card).
// It polls until a card is presented or ctx ends. A card that leaves the
// field between the steps is searched for again, as many times as
// Options.Retries allows. Data that does not hold together is an error
// wrapping ErrCardData; the photo is decoded if Options.Photo is set.
func (c *Client) ReadCard(ctx context.Context) (*Card, error) {
	if err := c.Status(ctx); err != nil {
		return nil, err
	}
	var text, photo []byte
	for lost := 0; ; {
		err := c.FindCard(ctx)
		if errors.Is(err, StatusNoCard) {
			if err := sleep(ctx, c.opts.PollInterval); err != nil {
				return nil, fmt.Errorf("sam: waiting for a card: %w", err)
			}
			continue
		}
		if err == nil {
			err = c.SelectCard(ctx)
		}
		if err == nil {
			text, photo, err = c.ReadBase(ctx)
		}
		if err == nil {
			break
		}
		if (errors.Is(err, StatusSelectFailed) || errors.Is(err, StatusReadFailed)) && lost < c.opts.Retries && ctx.Err() == nil {
			lost++
			c.opts.Logger.Debug("sam: card lost during the read, searching again", "err", err)
			continue
		}
		return nil, err
	}
	t, err := ParseText(text)
	if err != nil {
		return nil, err
	}
	card, err := t.Card()
	if err != nil {
		return nil, err
	}
	card.Photo, card.PhotoFormat = photo, "wlt"
	if c.opts.Photo != nil && len(photo) > 0 {
		img, format, err := c.opts.Photo.DecodePhoto(ctx, photo)
		if err != nil {
			return nil, err
		}
		card.Photo, card.PhotoFormat = img, format
	}
	card.Verified = true
	card.ReadAt = time.Now()
	return card, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
