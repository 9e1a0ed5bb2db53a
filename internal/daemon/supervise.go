package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/codereader/scanner"
	"github.com/guichet/guichet/device/printer"
	"github.com/guichet/guichet/device/printer/escpos"
	"github.com/guichet/guichet/firmware-bridge/frame"
	bridge "github.com/guichet/guichet/firmware-bridge/sam"
	"github.com/guichet/guichet/internal/health"
	"github.com/guichet/guichet/sync/envelope"
)

// Hints shown on the status page and in the health report, for the person
// in front of the appliance.
const (
	hintGone    = "not answering: check its cable and power"
	hintGarbage = "sends unreadable data: check its settings (baud rate, mode)"
	hintPaper   = "out of paper"
)

// DeviceState is a peripheral as the status shows it: its health entry
// and, when degraded, the problem as a key the UI translates ("gone",
// "garbage", "paper"; "other" for a hint it does not know).
type DeviceState struct {
	envelope.HealthDevice
	Problem string `json:"problem,omitempty"`
}

// DeviceStates gives each health entry its problem key.
func DeviceStates(devs []envelope.HealthDevice) []DeviceState {
	out := make([]DeviceState, len(devs))
	for i, d := range devs {
		out[i].HealthDevice = d
		switch {
		case d.State == envelope.DeviceOK:
		case d.Hint == hintGone:
			out[i].Problem = "gone"
		case d.Hint == hintGarbage:
			out[i].Problem = "garbage"
		case d.Hint == hintPaper:
			out[i].Problem = "paper"
		default:
			out[i].Problem = "other"
		}
	}
	return out
}

// supervisor keeps the peripherals that can come and go (a scanner
// unplugged, a printer switched off) on the health board: one that fails
// is marked degraded, reopened with backoff, and marked ok again once it
// answers, without a restart.
type supervisor struct {
	board *health.Board
	log   *slog.Logger
	// minBackoff and maxBackoff bound the delay between reopening
	// attempts; probe is the time between two printer status checks.
	minBackoff, maxBackoff, probe time.Duration
}

func newSupervisor(board *health.Board, log *slog.Logger) *supervisor {
	return &supervisor{board: board, log: log, minBackoff: 200 * time.Millisecond, maxBackoff: 10 * time.Second, probe: 15 * time.Second}
}

// backoff doubles from minBackoff up to maxBackoff, with jitter on its
// upper half.
func (s *supervisor) backoff(attempt int) time.Duration {
	d := s.minBackoff
	for i := 0; i < attempt && d < s.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// openReader opens a code reader.
type openReader func(ctx context.Context) (codereader.Reader, error)

// readCodes hands every code r reads to onCode until ctx ends. A read that
// fails closes r and reopens it with open, with backoff, until it answers;
// a garbled read (a line too long: wrong baud rate or a stuck key) leaves
// it open. Either marks the reader degraded until its next good code or
// reopening. r is closed when readCodes returns.
func (s *supervisor) readCodes(ctx context.Context, name string, r codereader.Reader, open openReader, onCode func(codereader.Code)) {
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	for attempt := 0; ; {
		if r == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.backoff(attempt)):
			}
			var err error
			if r, err = open(ctx); err != nil {
				r = nil
				attempt++
				s.log.Debug("code reader still away", "device", name, "err", err)
				continue
			}
			attempt = 0
			s.board.OK(name)
			s.log.Info("code reader back", "device", name)
		}
		c, err := r.ReadCode(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			s.board.Decoded(name)
			s.board.OK(name)
			onCode(c)
		case errors.Is(err, scanner.ErrTooLong):
			s.board.Fail(name, hintGarbage)
			s.log.Warn("code reader sends garbage", "device", name, "err", err)
		default:
			s.board.Fail(name, hintGone)
			s.log.Warn("code reader lost, reopening", "device", name, "err", err)
			r.Close()
			r = nil
		}
	}
}

// statusPrinter is a printer that can say whether it answers and has
// paper (escpos).
type statusPrinter interface {
	Status(ctx context.Context) (escpos.Status, error)
}

// watchedPrinter reports its printer's failures on the board.
type watchedPrinter struct {
	printer.Printer
	name string
	s    *supervisor
}

// watchPrinter wraps p so that its failures mark it degraded.
func (s *supervisor) watchPrinter(name string, p printer.Printer) *watchedPrinter {
	return &watchedPrinter{Printer: p, name: name, s: s}
}

func (w *watchedPrinter) note(ctx context.Context, err error) error {
	switch {
	case err == nil:
		w.s.board.OK(w.name)
	case errors.Is(err, escpos.ErrPaperOut):
		w.s.board.Fail(w.name, hintPaper)
	case ctx.Err() != nil, errors.Is(err, printer.ErrInvalid):
		// Not the printer's fault.
	default:
		w.s.board.Fail(w.name, hintGone)
	}
	return err
}

// Print prints d, noting how it went.
func (w *watchedPrinter) Print(ctx context.Context, d printer.Document) error {
	return w.note(ctx, w.Printer.Print(ctx, d))
}

// OpenDrawer pulses the drawer, noting how it went.
func (w *watchedPrinter) OpenDrawer(ctx context.Context) error {
	return w.note(ctx, w.Printer.OpenDrawer(ctx))
}

// check asks the printer for its status once: it reopens its link itself
// after a failure, so a printer switched back on is ok at the next check.
func (w *watchedPrinter) check(ctx context.Context) {
	sp, ok := w.Printer.(statusPrinter)
	if !ok {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := sp.Status(cctx)
	if err != nil && !isGarbage(err) && cctx.Err() == nil {
		// A failed exchange closed the driver's link, which may have
		// been to the printer before it was unplugged; the second try
		// opens the port again and finds the printer plugged back.
		st, err = sp.Status(cctx)
	}
	switch {
	case ctx.Err() != nil:
	case err != nil && isGarbage(err):
		w.s.board.Fail(w.name, hintGarbage)
	case err != nil:
		w.s.board.Fail(w.name, hintGone)
	case st.PaperOut:
		w.s.board.Fail(w.name, hintPaper)
	default:
		w.s.board.OK(w.name)
	}
}

// watch checks the printer every probe interval until ctx ends.
func (w *watchedPrinter) watch(ctx context.Context) {
	if _, ok := w.Printer.(statusPrinter); !ok {
		return
	}
	t := time.NewTicker(w.s.probe)
	defer t.Stop()
	for {
		w.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// isGarbage tells a reply that is not a status byte from no reply. The
// driver has no sentinel for it (yet): its message is matched.
func isGarbage(err error) bool {
	return strings.Contains(err.Error(), "is not a status byte")
}

// statusReader is a card reader whose module can be asked whether it is
// ready (sam: the status command 11 FF).
type statusReader interface {
	Client() *bridge.Client
}

// watchedCardReader reports its card reader's state on the board and,
// when the reader's port is gone, opens it again: the flows keep the
// wrapper and find the new reader behind it.
type watchedCardReader struct {
	name string
	s    *supervisor
	open func(ctx context.Context) (cardreader.Reader, error)

	mu    sync.Mutex
	inner cardreader.Reader // nil while the reader is away
}

// watchCardReader wraps r, which open opens again.
func (s *supervisor) watchCardReader(name string, r cardreader.Reader, open func(ctx context.Context) (cardreader.Reader, error)) *watchedCardReader {
	return &watchedCardReader{name: name, s: s, open: open, inner: r}
}

// errReaderAway is returned while the reader is away.
var errReaderAway = errors.New("card reader away")

func (w *watchedCardReader) current() cardreader.Reader {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inner
}

// ReadCard reads a card through the reader there now.
func (w *watchedCardReader) ReadCard(ctx context.Context, a cardreader.Access) (*cardreader.Card, error) {
	r := w.current()
	if r == nil {
		return nil, fmt.Errorf("%s: %w", w.name, errReaderAway)
	}
	c, err := r.ReadCard(ctx, a)
	if err != nil && ctx.Err() == nil {
		if p := moduleProblem(err); p != "" {
			w.s.board.Fail(w.name, p)
		}
	}
	return c, err
}

// Probe asks the reader there now whether it and a card are there, for
// the self-test.
func (w *watchedCardReader) Probe(ctx context.Context) (cardreader.Presence, error) {
	r := w.current()
	if r == nil {
		return cardreader.Presence{}, fmt.Errorf("%s: %w", w.name, errReaderAway)
	}
	p, ok := r.(cardreader.Prober)
	if !ok {
		return cardreader.Presence{}, fmt.Errorf("%s: the driver cannot be probed", w.name)
	}
	return p.Probe(ctx)
}

// Close closes the reader there now.
func (w *watchedCardReader) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inner == nil {
		return nil
	}
	err := w.inner.Close()
	w.inner = nil
	return err
}

// moduleProblem says which hint an error of the module's link deserves;
// "" for an error about the card (none, unreadable), not the reader.
func moduleProblem(err error) string {
	switch {
	case errors.Is(err, bridge.ErrClosed), errors.Is(err, bridge.ErrNoReply):
		return hintGone
	case errors.Is(err, bridge.ErrMalformed), errors.Is(err, frame.ErrChecksum), errors.Is(err, frame.ErrTooLong), errors.Is(err, frame.ErrTooShort):
		return hintGarbage
	}
	return ""
}

// check asks the module whether it is ready; a reader whose port is gone
// is opened again, and is ok once its module answers.
func (w *watchedCardReader) check(ctx context.Context) {
	r := w.current()
	if r == nil {
		nr, err := w.open(ctx)
		if err != nil {
			w.s.board.Fail(w.name, hintGone)
			return
		}
		w.mu.Lock()
		w.inner, r = nr, nr
		w.mu.Unlock()
		w.s.log.Info("card reader back", "device", w.name)
	}
	sr, ok := r.(statusReader)
	if !ok {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := sr.Client().Status(cctx)
	switch {
	case ctx.Err() != nil:
	case err == nil:
		w.s.board.OK(w.name)
	case errors.Is(err, bridge.ErrClosed), errors.Is(err, bridge.ErrNoReply):
		// The port is gone (unplugged) or the module mute: drop it and
		// open the path again at the next check, which also resets a
		// module that hung.
		w.s.board.Fail(w.name, hintGone)
		w.mu.Lock()
		if w.inner == r {
			w.inner = nil
		}
		w.mu.Unlock()
		r.Close()
	default:
		p := moduleProblem(err)
		if p == "" {
			p = hintGone
		}
		w.s.board.Fail(w.name, p)
	}
}

// watch checks the reader every probe interval until ctx ends.
func (w *watchedCardReader) watch(ctx context.Context) {
	if _, ok := w.current().(statusReader); !ok {
		return
	}
	t := time.NewTicker(w.s.probe)
	defer t.Stop()
	for {
		w.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
