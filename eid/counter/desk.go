package counter

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/internal/watch"
)

// FaceCamera is what the desk needs of the face camera; the cameras of
// device/camera satisfy it.
type FaceCamera interface {
	Read(ctx context.Context, dst *gocv.Mat) error
	Close() error
}

// DeskConfig wires a Desk.
type DeskConfig struct {
	// Config is the flow's; its OnChange is the desk's and must be nil.
	Config
	// OpenCamera opens the face camera. The desk opens it for each
	// citizen and closes it after: nothing looks at the counter
	// otherwise, and a recorded sequence plays from its start each time.
	OpenCamera func(context.Context) (FaceCamera, error)
	// FrameRate is how many frames a second, at most, go to the face
	// check (default 10).
	FrameRate float64
}

// Desk is the e-ID counter as the appliance runs it: the official's flow,
// the face camera that feeds it during the face step, and the screen the
// official's page long-polls. Its methods other than Run are the counter
// as the UI uses it.
type Desk struct {
	svc     *Service
	offs    *Officials
	openCam func(context.Context) (FaceCamera, error)
	every   time.Duration
	log     *slog.Logger
	board   watch.Value[Screen]

	mu    sync.Mutex
	token string // the session whose face step the camera feeds
	wake  chan struct{}
}

// NewDesk returns a desk; Run feeds its camera.
func NewDesk(cfg DeskConfig) (*Desk, error) {
	if cfg.OpenCamera == nil {
		return nil, errors.New("counter: desk: no face camera")
	}
	if cfg.OnChange != nil {
		return nil, errors.New("counter: desk: OnChange is the desk's")
	}
	if cfg.FrameRate <= 0 {
		cfg.FrameRate = 10
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	d := &Desk{offs: cfg.Officials, openCam: cfg.OpenCamera, every: time.Duration(float64(time.Second) / cfg.FrameRate),
		log: cfg.Log.With("component", "eid-counter"), wake: make(chan struct{}, 1)}
	// OnChange runs under the flow's lock, so the board only stores.
	cfg.OnChange = d.board.Set
	svc, err := New(cfg.Config)
	if err != nil {
		return nil, err
	}
	d.svc = svc
	d.board.Set(svc.Screen())
	return d, nil
}

// Service returns the flow the desk runs, for the link's results and the
// start-up sweep.
func (d *Desk) Service() *Service { return d.svc }

// Close wipes the activation under way.
func (d *Desk) Close() error { return d.svc.Close() }

// Run feeds camera frames to the face check while the flow is at the face
// step, at most at the configured rate, until ctx ends.
func (d *Desk) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		}
		if d.svc.Screen().Step != StepFace {
			continue
		}
		if err := d.look(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("face camera", "err", err)
		}
	}
}

// look feeds one citizen's face check.
func (d *Desk) look(ctx context.Context) error {
	cam, err := d.openCam(ctx)
	if err != nil {
		return err
	}
	defer cam.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	for d.svc.Screen().Step == StepFace {
		start := time.Now()
		if err := cam.Read(ctx, &frame); err != nil {
			return err
		}
		d.mu.Lock()
		tok := d.token
		d.mu.Unlock()
		if _, err := d.svc.Feed(ctx, tok, frame); err != nil {
			if errors.Is(err, ErrSession) || errors.Is(err, ErrStep) {
				return nil
			}
			d.log.Warn("face frame", "err", err)
		}
		if !sleep(ctx, d.every-time.Since(start)) {
			return nil
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// feedFor starts the camera for the session token once the flow has
// reached the face step.
func (d *Desk) feedFor(token string, sc Screen) {
	if sc.Step != StepFace {
		return
	}
	d.mu.Lock()
	d.token = token
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// SignIn checks an official's PIN and returns a session token.
func (d *Desk) SignIn(ctx context.Context, official, pin string) (string, error) {
	return d.svc.SignIn(ctx, official, pin)
}

// SignOut ends a session.
func (d *Desk) SignOut(ctx context.Context, token string) error { return d.svc.SignOut(ctx, token) }

// Begin starts an activation.
func (d *Desk) Begin(ctx context.Context, token string) (Screen, error) {
	return d.svc.Begin(ctx, token)
}

// ReadCard reads the card and, once read, starts the camera.
func (d *Desk) ReadCard(ctx context.Context, token string, access cardreader.Access) (Screen, error) {
	sc, err := d.svc.ReadCard(ctx, token, access)
	d.feedFor(token, sc)
	return sc, err
}

// RetryFace starts the face check again.
func (d *Desk) RetryFace(ctx context.Context, token string) (Screen, error) {
	sc, err := d.svc.RetryFace(ctx, token)
	d.feedFor(token, sc)
	return sc, err
}

// Confirm activates.
func (d *Desk) Confirm(ctx context.Context, token string) (Screen, error) {
	return d.svc.Confirm(ctx, token)
}

// Refuse refuses the activation with a reason code.
func (d *Desk) Refuse(ctx context.Context, token string, why Reason) (Screen, error) {
	return d.svc.Refuse(ctx, token, why)
}

// Activation returns an activation's stored state.
func (d *Desk) Activation(ctx context.Context, id string) (Stored, error) {
	return d.svc.Status(ctx, id)
}

// Current returns the screen, its version and a channel closed on change.
func (d *Desk) Current() (Screen, uint64, <-chan struct{}) { return d.board.Current() }

// SetPIN enrols an official or resets a PIN (the technician's route).
func (d *Desk) SetPIN(ctx context.Context, official, pin string) error {
	return d.offs.SetPIN(ctx, official, pin)
}

// ListOfficials lists the officials' accounts (the technician's screen).
func (d *Desk) ListOfficials(ctx context.Context) ([]Account, error) {
	return d.offs.List(ctx)
}
