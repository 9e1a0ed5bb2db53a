// Package counter is the official's flow at a government ID counter: the
// official signs in with a PIN of their own, reads the citizen's card, the
// citizen looks at the camera while a face session checks quality and
// liveness and matches the card photo, and the official confirms (or
// refuses, with a reason code). A confirmed activation of the full e-ID
// goes to the platform through the outbox as a record of type
// "eid.activation"; the platform's ack turns it "activated".
//
// Data minimisation: the activation record carries a pseudonymous subject
// id (HMAC-SHA256 of the card's number under the counter's subject key),
// the document kind, the level, the official's id, the match score and the
// liveness result; never a name, a number or a picture. The card's text
// fields wait in the vault, encrypted, and are destroyed when the platform
// answers; the card photo and the face templates live in memory only and
// are wiped when the activation ends. Every step goes into the audit log.
//
// The screen state the UI renders is Screen; Service is safe for
// concurrent use, one activation at a time per counter.
package counter

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/eid/face"
	"github.com/guichet/guichet/eid/vault"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

// Store is the part of the outbox the flow uses: activations and
// officials are rows of its tables, written in the commit of a record or
// of an Update, read on its read pool.
type Store interface {
	Append(ctx context.Context, r outbox.Record) (outbox.Entry, error)
	Update(ctx context.Context, fn func(tx *sql.Tx) error) error
	Reader() *sql.DB
}

// FaceSession is one citizen's face check; *face.Session satisfies it.
type FaceSession interface {
	Feed(ctx context.Context, frame gocv.Mat) (face.Status, error)
	MatchCard(ctx context.Context, photo []byte) (face.Result, error)
	Close() error
}

// Faces starts face sessions.
type Faces interface {
	NewSession(ch face.Challenge) FaceSession
}

type engineFaces struct{ e *face.Engine }

func (f engineFaces) NewSession(ch face.Challenge) FaceSession { return f.e.NewSession(ch) }

// EngineFaces adapts a face engine to the flow.
func EngineFaces(e *face.Engine) Faces { return engineFaces{e} }

// Record type and key prefix of activations.
const (
	RecordType = "eid.activation"
	KeyPrefix  = "eid-act-"
	// LevelFull is the e-ID level an activation at the counter unlocks.
	LevelFull = "full"
)

// Step is where the counter's flow stands.
type Step string

// The steps, in order.
const (
	StepSignIn    Step = "signin"    // no official signed in
	StepReady     Step = "ready"     // signed in, no activation under way
	StepCard      Step = "card"      // waiting for the card on the reader
	StepFace      Step = "face"      // the citizen looks at the camera
	StepReview    Step = "review"    // the official confirms or refuses
	StepQueued    Step = "queued"    // confirmed and stored; the platform has not answered
	StepActivated Step = "activated" // the platform applied the activation
	StepRejected  Step = "rejected"  // the platform refused it
	StepRefused   Step = "refused"   // the official refused it
)

// Reason is why an official refuses an activation: a code, never free
// text, so that no personal data slips into the audit log.
type Reason string

// The refusal reasons.
const (
	ReasonFaceMismatch    Reason = "face_mismatch"
	ReasonLiveness        Reason = "liveness_failed"
	ReasonDocumentDoubt   Reason = "document_doubt"
	ReasonCitizenWithdrew Reason = "citizen_withdrew"
	ReasonOther           Reason = "other"
)

func (r Reason) valid() bool {
	switch r {
	case ReasonFaceMismatch, ReasonLiveness, ReasonDocumentDoubt, ReasonCitizenWithdrew, ReasonOther:
		return true
	}
	return false
}

// Screen is the counter's state for the UI to render. It holds no
// personal data.
type Screen struct {
	Step       Step   `json:"step"`
	Official   string `json:"official,omitempty"`
	Activation string `json:"activation,omitempty"`
	// Prompt is the instruction for the official or the citizen.
	Prompt string `json:"prompt"`
	// Document is the kind of card read; Verified says that its data was
	// vouched for by passive authentication or the reader's SAM.
	Document string `json:"document,omitempty"`
	Verified bool   `json:"verified,omitempty"`
	// Problems are the quality gates the last frame failed, worded for
	// the citizen.
	Problems []face.Problem `json:"problems,omitempty"`
	Liveness face.Liveness  `json:"liveness"`
	Captured bool           `json:"captured"`
	// Match is the comparison with the card photo, once made.
	Match *face.Result `json:"match,omitempty"`
	// CanConfirm says that liveness passed and the faces match.
	CanConfirm bool   `json:"can_confirm"`
	Reason     Reason `json:"reason,omitempty"`
	// Error is the last error, for the official.
	Error string `json:"error,omitempty"`
}

// Body is the content of an eid.activation record.
type Body struct {
	Activation string  `json:"activation"`
	Subject    string  `json:"subject"`
	Document   string  `json:"document"`
	Verified   bool    `json:"verified"`
	Level      string  `json:"level"`
	Official   string  `json:"official"`
	Score      float64 `json:"score"`
	Threshold  float64 `json:"threshold"`
	Matcher    string  `json:"matcher"`
	Liveness   string  `json:"liveness"`
	Challenge  string  `json:"challenge"`
	At         int64   `json:"at"`
}

// Stored is an activation as the activations table keeps it (no
// personal data).
type Stored struct {
	Activation string `json:"activation"`
	Subject    string `json:"subject"`
	Official   string `json:"official"`
	Status     Step   `json:"status"`
	Reason     string `json:"reason,omitempty"`
	Seq        uint64 `json:"seq,omitempty"`
	At         int64  `json:"at"`
}

// Config wires a Service.
type Config struct {
	Store     Store
	Audit     *audit.Log
	Vault     *vault.Vault
	Reader    cardreader.Reader
	Faces     Faces
	Officials *Officials
	// SubjectKey keys the pseudonymous subject ids (at least 32 bytes,
	// the same on every counter of a tenant so that a citizen has one id;
	// provisioned with the device, never sent).
	SubjectKey []byte
	// SessionIdle ends a session without activity (default 5 min) and
	// SessionMax any session (default 8 h).
	SessionIdle, SessionMax time.Duration
	// Challenge picks the liveness challenge (default: at random).
	Challenge func() face.Challenge
	// Now is the clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger
	// OnChange is told of every new screen. It is called with the
	// service's lock held: it must not call back into the Service.
	OnChange func(Screen)
	// Lock, if set, refuses to begin an activation while it returns an
	// error: the tamper switch's lock (package tamper), until a
	// technician clears it.
	Lock func() error
}

// Service runs the counter's flow.
type Service struct {
	cfg Config

	mu       sync.Mutex
	sessions map[string]*session
	cur      *activation
}

type session struct {
	official      string
	start, active time.Time
}

// activation is the one under way. The photo is personal data held in
// memory only, wiped by end.
type activation struct {
	id        string
	official  string
	token     string
	step      Step
	subject   string
	doc       string
	verified  bool
	photo     []byte
	challenge face.Challenge
	fs        FaceSession
	status    face.Status
	match     *face.Result
	reason    Reason
	err       string
}

// Errors of the flow.
var (
	ErrSession = errors.New("counter: not signed in, or the session expired: sign in again")
	ErrStep    = errors.New("counter: not possible at this step")
	ErrConfirm = errors.New("counter: cannot confirm: liveness must pass and the faces must match")
	ErrReason  = errors.New("counter: unknown refusal reason")
)

// New checks cfg and returns the service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil, cfg.Audit == nil, cfg.Vault == nil, cfg.Reader == nil, cfg.Faces == nil, cfg.Officials == nil:
		return nil, errors.New("counter: store, audit, vault, reader, faces and officials are required")
	case len(cfg.SubjectKey) < 32:
		return nil, errors.New("counter: the subject key needs at least 32 bytes")
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 5 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 8 * time.Hour
	}
	if cfg.Challenge == nil {
		cfg.Challenge = func() face.Challenge {
			var b [1]byte
			rand.Read(b[:])
			if b[0]&1 == 0 {
				return face.TurnLeft
			}
			return face.TurnRight
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Service{cfg: cfg, sessions: map[string]*session{}}, nil
}

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func (s *Service) audit(ctx context.Context, e audit.Entry) {
	if _, err := s.cfg.Audit.Append(ctx, e); err != nil {
		// The step went through; the failure is the store's and shows in
		// the log and in the next Verify.
		s.cfg.Log.Error("audit append failed", "step", e.Step, "err", err)
	}
}

// SignIn checks an official's PIN and returns a session token.
func (s *Service) SignIn(ctx context.Context, officialID, pin string) (string, error) {
	err := s.cfg.Officials.Check(ctx, officialID, pin)
	who := officialID
	if !validID(who) {
		who = ""
	}
	if err != nil {
		outcome := "failed"
		if errors.Is(err, ErrLocked) {
			outcome = "locked"
		}
		s.audit(ctx, audit.Entry{Official: who, Step: "signin", Outcome: outcome})
		s.cfg.Log.Warn("official sign-in refused", "official", who, "outcome", outcome)
		return "", err
	}
	tok := randomID("", 32)
	now := s.cfg.Now()
	s.mu.Lock()
	s.sessions[tok] = &session{official: officialID, start: now, active: now}
	s.mu.Unlock()
	s.audit(ctx, audit.Entry{Official: officialID, Step: "signin", Outcome: "ok"})
	s.cfg.Log.Info("official signed in", "official", officialID)
	s.changed()
	return tok, nil
}

// SignOut ends a session; an activation under way is abandoned.
func (s *Service) SignOut(ctx context.Context, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ses, err := s.session(ctx, token)
	if err != nil {
		return err
	}
	if s.cur != nil && s.cur.token == token {
		s.abandon(ctx, "signout")
	}
	delete(s.sessions, token)
	s.audit(ctx, audit.Entry{Official: ses.official, Step: "signout", Outcome: "ok"})
	s.changedLocked()
	return nil
}

// session checks a token and notes the activity. s.mu is held.
func (s *Service) session(ctx context.Context, token string) (*session, error) {
	ses := s.sessions[token]
	if ses == nil {
		return nil, ErrSession
	}
	now := s.cfg.Now()
	if now.Sub(ses.active) > s.cfg.SessionIdle || now.Sub(ses.start) > s.cfg.SessionMax {
		delete(s.sessions, token)
		s.audit(ctx, audit.Entry{Official: ses.official, Step: "session", Outcome: "expired"})
		if s.cur != nil && s.cur.token == token {
			s.abandon(ctx, "session_expired")
		}
		s.changedLocked()
		return nil, ErrSession
	}
	ses.active = now
	return ses, nil
}

// abandon ends the activation under way without a decision and destroys
// its data; an activation already decided is only put away (a confirmed
// one keeps its vault record until the platform answers). s.mu is held.
func (s *Service) abandon(ctx context.Context, why string) {
	a := s.cur
	if a.step != StepCard && a.step != StepFace && a.step != StepReview {
		s.end(a)
		s.cur = nil
		return
	}
	s.audit(ctx, audit.Entry{Official: a.official, Step: "abandon", Outcome: "ok", Reason: why, Activation: a.id, Subject: a.subject})
	if err := s.cfg.Vault.Delete(a.id); err != nil {
		s.cfg.Log.Error("vault delete failed", "activation", a.id, "err", err)
	}
	s.end(a)
	s.cur = nil
}

// end wipes what the activation holds in memory.
func (s *Service) end(a *activation) {
	clear(a.photo)
	a.photo = nil
	if a.fs != nil {
		a.fs.Close()
		a.fs = nil
	}
}

// Begin starts an activation for the signed-in official and waits for the
// card. Any activation under way is abandoned.
func (s *Service) Begin(ctx context.Context, token string) (Screen, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ses, err := s.session(ctx, token)
	if err != nil {
		return s.screenLocked(), err
	}
	if s.cfg.Lock != nil {
		if err := s.cfg.Lock(); err != nil {
			s.audit(ctx, audit.Entry{Official: ses.official, Step: "begin", Outcome: "refused", Reason: "tamper_lock"})
			return s.screenLocked(), fmt.Errorf("counter: no activation: %w", err)
		}
	}
	if s.cur != nil {
		s.abandon(ctx, "restarted")
	}
	s.cur = &activation{id: randomID("a", 12), official: ses.official, token: token, step: StepCard}
	s.audit(ctx, audit.Entry{Official: ses.official, Step: "begin", Outcome: "ok", Activation: s.cur.id})
	return s.changedLocked(), nil
}

// current checks the token and that the activation is at step. s.mu is
// held.
func (s *Service) current(ctx context.Context, token string, step Step) (*activation, error) {
	if _, err := s.session(ctx, token); err != nil {
		return nil, err
	}
	a := s.cur
	if a == nil || a.token != token || a.step != step {
		return nil, ErrStep
	}
	return a, nil
}

// Subject derives the pseudonymous subject id of a card: HMAC-SHA256 under
// key of the document kind, the issuer and the card's number (the
// citizen's ID number when the card has one, else the document number).
func Subject(key []byte, c *cardreader.Card) string {
	num := c.IDNumber
	if num == "" {
		num = c.DocumentNumber
	}
	issuer := c.Issuer
	if issuer == "" {
		issuer = c.Nationality
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("guichet eid subject v1\x00"))
	m.Write([]byte(c.Kind + "\x00" + strings.ToUpper(issuer) + "\x00" + strings.ToUpper(num)))
	return "s" + hex.EncodeToString(m.Sum(nil)[:16])
}

// ReadCard reads the card on the reader (with access for ICAO 9303 chips),
// seals its text fields in the vault and keeps its photo in memory for the
// face match. The card's data is never logged.
func (s *Service) ReadCard(ctx context.Context, token string, access cardreader.Access) (Screen, error) {
	s.mu.Lock()
	a, err := s.current(ctx, token, StepCard)
	s.mu.Unlock()
	if err != nil {
		return s.Screen(), err
	}
	// The read may take seconds: it runs without the lock.
	card, rerr := s.cfg.Reader.ReadCard(ctx, access)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != a || a.step != StepCard {
		if card != nil {
			clear(card.Photo)
		}
		return s.screenLocked(), ErrStep
	}
	if rerr != nil {
		a.err = "card not read: " + rerr.Error()
		s.audit(ctx, audit.Entry{Official: a.official, Step: "card_read", Outcome: "failed", Activation: a.id})
		s.changedLocked()
		return s.screenLocked(), fmt.Errorf("counter: read card: %w", rerr)
	}
	if len(card.Photo) == 0 {
		a.err = "the card has no photo to compare with"
		s.audit(ctx, audit.Entry{Official: a.official, Step: "card_read", Outcome: "no_photo", Activation: a.id})
		s.changedLocked()
		return s.screenLocked(), errors.New("counter: the card has no photo")
	}
	a.photo, card.Photo = card.Photo, nil
	a.subject = Subject(s.cfg.SubjectKey, card)
	a.doc, a.verified = card.Kind, card.Verified
	data, err := json.Marshal(card)
	if err != nil {
		return s.screenLocked(), err
	}
	*card = cardreader.Card{}
	err = s.cfg.Vault.Put(a.id, data)
	clear(data)
	if err != nil {
		a.err = "card data not stored"
		s.audit(ctx, audit.Entry{Official: a.official, Step: "card_read", Outcome: "vault_failed", Activation: a.id})
		s.changedLocked()
		return s.screenLocked(), fmt.Errorf("counter: %w", err)
	}
	a.err = ""
	a.challenge = s.cfg.Challenge()
	a.fs = s.cfg.Faces.NewSession(a.challenge)
	a.status = face.Status{Liveness: face.Liveness{Challenge: a.challenge, State: face.Pending, Prompt: a.challenge.Prompt()}}
	a.step = StepFace
	s.audit(ctx, audit.Entry{Official: a.official, Step: "card_read", Outcome: "ok", Activation: a.id, Subject: a.subject})
	return s.changedLocked(), nil
}

// Feed gives the face session one camera frame. Once liveness has passed
// with a good frame captured, the live face is matched with the card
// photo and the flow moves to review.
func (s *Service) Feed(ctx context.Context, token string, frame gocv.Mat) (Screen, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.current(ctx, token, StepFace)
	if err != nil {
		return s.screenLocked(), err
	}
	st, err := a.fs.Feed(ctx, frame)
	if err != nil {
		a.err = "camera frame not processed"
		s.changedLocked()
		return s.screenLocked(), fmt.Errorf("counter: face: %w", err)
	}
	a.status = st
	switch st.Liveness.State {
	case face.Failed:
		s.audit(ctx, audit.Entry{Official: a.official, Step: "liveness", Outcome: "failed", Activation: a.id, Subject: a.subject})
		a.step = StepReview
	case face.Passed:
		if !st.Captured {
			break // keep feeding until a good frame is held
		}
		s.audit(ctx, audit.Entry{Official: a.official, Step: "liveness", Outcome: "passed", Activation: a.id, Subject: a.subject})
		res, err := a.fs.MatchCard(ctx, a.photo)
		if err != nil {
			a.err = "card photo not usable: " + err.Error()
			s.audit(ctx, audit.Entry{Official: a.official, Step: "match", Outcome: "error", Activation: a.id, Subject: a.subject})
		} else {
			a.match = &res
			outcome := "mismatch"
			if res.Match {
				outcome = "match"
			}
			s.audit(ctx, audit.Entry{Official: a.official, Step: "match", Outcome: outcome, Activation: a.id, Subject: a.subject, Score: res.Score})
		}
		a.step = StepReview
	}
	return s.changedLocked(), nil
}

// RetryFace starts the face check again with a new challenge, from review.
func (s *Service) RetryFace(ctx context.Context, token string) (Screen, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.current(ctx, token, StepReview)
	if err != nil {
		return s.screenLocked(), err
	}
	a.fs.Close()
	a.match, a.err = nil, ""
	a.challenge = s.cfg.Challenge()
	a.fs = s.cfg.Faces.NewSession(a.challenge)
	a.status = face.Status{Liveness: face.Liveness{Challenge: a.challenge, State: face.Pending, Prompt: a.challenge.Prompt()}}
	a.step = StepFace
	s.audit(ctx, audit.Entry{Official: a.official, Step: "retry_face", Outcome: "ok", Activation: a.id, Subject: a.subject})
	return s.changedLocked(), nil
}

// Confirm is the official's decision to activate: the activation record
// goes durably into the outbox and the screen says "queued" until the
// platform answers.
func (s *Service) Confirm(ctx context.Context, token string) (Screen, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.current(ctx, token, StepReview)
	if err != nil {
		return s.screenLocked(), err
	}
	if a.status.Liveness.State != face.Passed || a.match == nil || !a.match.Match {
		return s.screenLocked(), ErrConfirm
	}
	now := s.cfg.Now()
	body, err := json.Marshal(Body{Activation: a.id, Subject: a.subject, Document: a.doc, Verified: a.verified,
		Level: LevelFull, Official: a.official, Score: a.match.Score, Threshold: a.match.Threshold,
		Matcher: a.match.Matcher, Liveness: string(face.Passed), Challenge: string(a.challenge), At: now.UnixMilli()})
	if err != nil {
		return s.screenLocked(), err
	}
	st := Stored{Activation: a.id, Subject: a.subject, Official: a.official, Status: StepQueued, At: now.UnixMilli()}
	e, err := s.cfg.Store.Append(ctx, outbox.Record{Key: KeyPrefix + a.id, Type: RecordType, Body: body,
		Write: func(tx *sql.Tx) error { return saveActivation(tx, st) }})
	if err != nil {
		a.err = "not stored: try again"
		s.changedLocked()
		return s.screenLocked(), fmt.Errorf("counter: confirm: %w", err)
	}
	a.step = StepQueued
	s.audit(ctx, audit.Entry{Official: a.official, Step: "confirm", Outcome: "queued", Activation: a.id, Subject: a.subject, Score: a.match.Score})
	s.cfg.Log.Info("activation queued", "activation", a.id, "seq", e.Seq)
	s.end(a)
	return s.changedLocked(), nil
}

// Refuse is the official's decision not to activate, with a reason code.
// The card's data is destroyed at once.
func (s *Service) Refuse(ctx context.Context, token string, why Reason) (Screen, error) {
	if !why.valid() {
		return s.Screen(), ErrReason
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.session(ctx, token); err != nil {
		return s.screenLocked(), err
	}
	a := s.cur
	if a == nil || a.token != token || (a.step != StepCard && a.step != StepFace && a.step != StepReview) {
		return s.screenLocked(), ErrStep
	}
	a.step, a.reason = StepRefused, why
	s.audit(ctx, audit.Entry{Official: a.official, Step: "refuse", Outcome: "ok", Reason: string(why), Activation: a.id, Subject: a.subject})
	if err := s.cfg.Vault.Delete(a.id); err != nil {
		s.cfg.Log.Error("vault delete failed", "activation", a.id, "err", err)
	}
	s.end(a)
	return s.changedLocked(), nil
}

// OnResult records the platform's answer to an activation record; the
// link's router calls it for every result to a record of RecordType. The
// card's data is destroyed, whatever the answer: the platform has decided.
func (s *Service) OnResult(r envelope.Result) {
	id := strings.TrimPrefix(r.Key, KeyPrefix)
	ctx := context.Background()
	step, reason := StepActivated, ""
	switch r.Status {
	case "applied", "approved", "duplicate":
	default:
		step, reason = StepRejected, r.Status
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.Status(ctx, id)
	if err != nil {
		s.cfg.Log.Warn("result for an unknown activation", "activation", id, "err", err)
		return
	}
	if st.Status == StepQueued {
		st.Status, st.Reason, st.Seq = step, reason, r.Seq
		if err := s.cfg.Store.Update(ctx, func(tx *sql.Tx) error { return saveActivation(tx, st) }); err != nil {
			s.cfg.Log.Error("activation update failed", "activation", id, "err", err)
			return
		}
		outcome := string(step)
		s.audit(ctx, audit.Entry{Official: st.Official, Step: "platform", Outcome: outcome, Reason: auditCode(reason), Activation: id, Subject: st.Subject})
	}
	if err := s.cfg.Vault.Delete(id); err != nil {
		s.cfg.Log.Error("vault delete failed", "activation", id, "err", err)
	}
	if s.cur != nil && s.cur.id == id {
		s.cur.step = st.Status
		s.changedLocked()
	}
}

// auditCode keeps a platform status usable as an audit reason code.
func auditCode(s string) string {
	if validID(s) {
		return s
	}
	return "other"
}

// Status returns the stored state of an activation.
func (s *Service) Status(ctx context.Context, id string) (Stored, error) {
	st := Stored{Activation: id}
	err := s.cfg.Store.Reader().QueryRowContext(ctx, `SELECT subject, official, status, reason, seq, at FROM activations WHERE id = ?`, id).
		Scan(&st.Subject, &st.Official, &st.Status, &st.Reason, &st.Seq, &st.At)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Stored{}, fmt.Errorf("counter: no activation %s", id)
	case err != nil:
		return Stored{}, fmt.Errorf("counter: activation %s: %w", id, err)
	}
	return st, nil
}

func saveActivation(tx *sql.Tx, st Stored) error {
	_, err := tx.Exec(`INSERT INTO activations(id, subject, official, status, reason, seq, at) VALUES(?,?,?,?,?,?,?)
		ON CONFLICT(id) DO UPDATE SET status=excluded.status, reason=excluded.reason, seq=excluded.seq`,
		st.Activation, st.Subject, st.Official, string(st.Status), st.Reason, st.Seq, st.At)
	if err != nil {
		return fmt.Errorf("counter: save activation %s: %w", st.Activation, err)
	}
	return nil
}

// Sweep destroys vault records left by activations that ended while the
// process was down (answered, refused or never confirmed). The daemon
// calls it at start, before the first activation.
func (s *Service) Sweep(ctx context.Context) error {
	ids, err := s.cfg.Vault.IDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		st, err := s.Status(ctx, id)
		if err == nil && st.Status == StepQueued {
			continue
		}
		if err := s.cfg.Vault.Delete(id); err != nil {
			return err
		}
	}
	return nil
}

// Close wipes the activation under way (photo, face templates) and ends
// every session.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.end(s.cur)
		s.cur = nil
	}
	clear(s.sessions)
	return nil
}

// Screen returns the current screen.
func (s *Service) Screen() Screen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.screenLocked()
}

var prompts = map[Step]string{
	StepReady:     "start an activation",
	StepCard:      "place the citizen's card on the reader",
	StepReview:    "check the result, then confirm or refuse",
	StepQueued:    "activation stored: it will be sent when the platform is reachable",
	StepActivated: "full e-ID activated",
	StepRejected:  "the platform refused the activation",
	StepRefused:   "activation refused",
}

func (s *Service) screenLocked() Screen {
	a := s.cur
	if a == nil {
		if len(s.sessions) == 0 {
			return Screen{Step: StepSignIn, Prompt: "official: sign in"}
		}
		return Screen{Step: StepReady, Prompt: prompts[StepReady]}
	}
	sc := Screen{Step: a.step, Official: a.official, Activation: a.id, Prompt: prompts[a.step],
		Document: a.doc, Verified: a.verified, Liveness: a.status.Liveness, Captured: a.status.Captured,
		Match: a.match, Reason: a.reason, Error: a.err}
	if a.step == StepFace {
		sc.Prompt = a.status.Liveness.Prompt
		sc.Problems = a.status.Quality.Problems
	}
	if a.step == StepReview {
		sc.CanConfirm = a.status.Liveness.State == face.Passed && a.match != nil && a.match.Match
	}
	return sc
}

func (s *Service) changed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changedLocked()
}

func (s *Service) changedLocked() Screen {
	sc := s.screenLocked()
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(sc)
	}
	return sc
}
