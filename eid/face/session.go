package face

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"gocv.io/x/gocv"
)

// Session is one citizen's face check at the counter: it is fed camera
// frames, reports detection, quality and the liveness challenge as they go,
// keeps the template of the best frontal frame, and compares it with the
// card photo. Face pixels and templates stay in memory only, and Close
// wipes them; nothing is written to disk or logged. A Session is safe for
// concurrent use, though frames are processed one at a time.
type Session struct {
	e    *Engine
	mu   sync.Mutex
	live *liveTracker
	gray gocv.Mat
	// best is the template of the most frontal good frame so far.
	best    []float32
	bestYaw float64
	closed  bool
}

// Status is what a session reports after each frame.
type Status struct {
	Check
	Liveness Liveness `json:"liveness"`
	// Captured says that a good frame's template is held for the match.
	Captured bool `json:"captured"`
}

// NewSession starts a session with challenge ch and the default liveness
// limits.
func (e *Engine) NewSession(ch Challenge) *Session {
	return e.NewSessionWithLimits(ch, DefaultLiveLimits)
}

// NewSessionWithLimits starts a session with challenge ch and lim.
func (e *Engine) NewSessionWithLimits(ch Challenge, lim LiveLimits) *Session {
	return &Session{e: e, live: newLiveTracker(ch, lim), gray: gocv.NewMat(), bestYaw: math.Inf(1)}
}

var errSessionClosed = errors.New("face: session closed")

// Feed processes one camera frame (8-bit BGR, BGRA or grey).
func (s *Session) Feed(ctx context.Context, frame gocv.Mat) (Status, error) {
	if err := ctx.Err(); err != nil {
		return Status{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Status{}, errSessionClosed
	}
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	c, err := s.e.check(frame)
	if err != nil {
		return Status{}, err
	}
	g, err := toGray(frame, &s.gray)
	if err != nil {
		return Status{}, err
	}
	if len(c.Faces) == 1 {
		f := c.Faces[0]
		s.live.observe(g, f)
		if c.Quality.OK() {
			if yaw := math.Abs(symmetryAxis(g, f.Box)); yaw < s.bestYaw {
				tpl, err := s.e.matcher.Template(frame, f)
				if err != nil {
					return Status{}, fmt.Errorf("face: template: %w", err)
				}
				Wipe(s.best)
				s.best, s.bestYaw = tpl, yaw
			}
		}
	}
	return Status{Check: c, Liveness: s.live.report(), Captured: s.best != nil}, nil
}

// Liveness reports the challenge's progress.
func (s *Session) Liveness() Liveness {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live.report()
}

// ErrNotCaptured reports a match asked for before any good frame was seen.
var ErrNotCaptured = errors.New("face: no good frame of the live face yet")

// MatchCard compares the live face with the card photo, JPEG or PNG bytes.
// The decision is the matcher's alone: the caller also requires the
// liveness check to have passed, and the official to confirm.
func (s *Session) MatchCard(ctx context.Context, photo []byte) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Result{}, errSessionClosed
	}
	if s.best == nil {
		return Result{}, ErrNotCaptured
	}
	img, err := DecodePhoto(photo)
	if err != nil {
		return Result{}, err
	}
	defer func() { wipeMat(&img); img.Close() }()
	s.e.mu.Lock()
	defer s.e.mu.Unlock()
	tpl, err := s.e.portraitTemplate(img)
	if err != nil {
		return Result{}, fmt.Errorf("card photo: %w", err)
	}
	defer Wipe(tpl)
	return s.e.decide(s.e.matcher.Similarity(s.best, tpl)), nil
}

// Close wipes the session's template and frames. It does not close the
// engine.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	Wipe(s.best)
	s.best = nil
	s.live.close()
	wipeMat(&s.gray)
	s.gray.Close()
	return nil
}
