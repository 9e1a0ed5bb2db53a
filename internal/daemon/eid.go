package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"gocv.io/x/gocv"
	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device/camera"
	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/eid/counter"
	"github.com/guichet/guichet/eid/credential"
	"github.com/guichet/guichet/eid/face"
	"github.com/guichet/guichet/eid/vault"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
)

// desk is the e-ID counter as the daemon runs it: the official's flow, the
// face camera that feeds it during the face step, and the screen the
// official's page long-polls.
type desk struct {
	svc    *counter.Service
	offs   *counter.Officials
	engine *face.Engine
	// openCam opens the face camera (devices.face_camera).
	openCam func(context.Context) (camera.Camera, error)
	every   time.Duration
	log     *slog.Logger
	board   board

	mu    sync.Mutex
	token string // the session whose face step the camera feeds
	wake  chan struct{}
}

// openDesk opens what the counter needs. The card reader is the one
// OpenDevices opened; the store is the outbox, which also holds the
// officials' PINs and the audit log.
func openDesk(ctx context.Context, cfg *config.Daemon, store *outbox.Store, reader cardreader.Reader, log *slog.Logger) (_ *desk, err error) {
	subjectKey, err := readSubjectKey(cfg.EID.SubjectKeyFile)
	if err != nil {
		return nil, err
	}
	var fc face.Config
	if err := strictDecode(&cfg.EID.Face, &fc); err != nil {
		return nil, fmt.Errorf("eid.face: %w", err)
	}
	d := &desk{every: time.Duration(float64(time.Second) / cfg.EID.FrameRate), log: log.With("component", "eid-counter"), wake: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if d.engine, err = face.Open(fc); err != nil {
		return nil, fmt.Errorf("eid.face: %w", err)
	}
	fcam := cfg.Devices.FaceCamera
	d.openCam = func(ctx context.Context) (camera.Camera, error) {
		c, err := camera.Drivers.Open(ctx, fcam.Driver, &fcam.Options)
		if err != nil {
			return nil, fmt.Errorf("devices.face_camera: %w", err)
		}
		return c, nil
	}
	// Opened once at start so that a wrong camera stops the daemon now,
	// not when the first citizen sits down.
	c, err := d.openCam(ctx)
	if err != nil {
		return nil, err
	}
	c.Close()
	v, err := vault.Open(filepath.Join(cfg.StateDir, "vault"))
	if err != nil {
		return nil, err
	}
	al, err := audit.Open(ctx, store, nil)
	if err != nil {
		return nil, err
	}
	var challenge func() face.Challenge
	if c := cfg.EID.Challenge; c != "" {
		challenge = func() face.Challenge { return face.Challenge(c) }
	}
	d.offs = &counter.Officials{Store: store}
	d.svc, err = counter.New(counter.Config{
		Store: store, Audit: al, Vault: v, Reader: reader,
		Faces: counter.EngineFaces(d.engine), Officials: d.offs,
		SubjectKey: subjectKey, SessionIdle: cfg.EID.SessionIdle.D(), Challenge: challenge,
		Log: log, OnChange: d.board.set,
	})
	if err != nil {
		return nil, err
	}
	d.board.set(d.svc.Screen())
	// Card data left in the vault by activations that ended while the
	// daemon was down is destroyed before anyone signs in.
	if err := d.svc.Sweep(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func readSubjectKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("eid.subject_key_file: %w", err)
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("eid.subject_key_file: %s holds %d bytes, at least 32 random bytes are needed", path, len(b))
	}
	return b, nil
}

// strictDecode decodes a YAML node refusing unknown fields, which
// yaml.Node.Decode alone does not.
func strictDecode(n *yaml.Node, v any) error {
	if n == nil || n.Kind == 0 {
		return nil
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// Close wipes the activation under way and releases the face models.
func (d *desk) Close() error {
	if d.svc != nil {
		d.svc.Close()
	}
	if d.engine != nil {
		d.engine.Close()
	}
	return nil
}

// run feeds camera frames to the face check while the flow is at the face
// step, at most at the configured rate, until ctx ends. The camera is
// opened for each citizen and closed after: nothing looks at the counter
// otherwise, and a recorded sequence plays from its start each time.
func (d *desk) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		}
		if d.svc.Screen().Step != counter.StepFace {
			continue
		}
		if err := d.look(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("face camera", "err", err)
		}
	}
}

// look feeds one citizen's face check.
func (d *desk) look(ctx context.Context) error {
	cam, err := d.openCam(ctx)
	if err != nil {
		return err
	}
	defer cam.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	for d.svc.Screen().Step == counter.StepFace {
		start := time.Now()
		if err := cam.Read(ctx, &frame); err != nil {
			return err
		}
		d.mu.Lock()
		tok := d.token
		d.mu.Unlock()
		if _, err := d.svc.Feed(ctx, tok, frame); err != nil {
			if errors.Is(err, counter.ErrSession) || errors.Is(err, counter.ErrStep) {
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
func (d *desk) feedFor(token string, sc counter.Screen) {
	if sc.Step != counter.StepFace {
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

// The methods below are the counter as the UI uses it (ui.Counter).

// SignIn checks an official's PIN and returns a session token.
func (d *desk) SignIn(ctx context.Context, official, pin string) (string, error) {
	return d.svc.SignIn(ctx, official, pin)
}

// SignOut ends a session.
func (d *desk) SignOut(ctx context.Context, token string) error { return d.svc.SignOut(ctx, token) }

// Begin starts an activation.
func (d *desk) Begin(ctx context.Context, token string) (counter.Screen, error) {
	return d.svc.Begin(ctx, token)
}

// ReadCard reads the card and, once read, starts the camera.
func (d *desk) ReadCard(ctx context.Context, token string, access cardreader.Access) (counter.Screen, error) {
	sc, err := d.svc.ReadCard(ctx, token, access)
	d.feedFor(token, sc)
	return sc, err
}

// RetryFace starts the face check again.
func (d *desk) RetryFace(ctx context.Context, token string) (counter.Screen, error) {
	sc, err := d.svc.RetryFace(ctx, token)
	d.feedFor(token, sc)
	return sc, err
}

// Confirm activates.
func (d *desk) Confirm(ctx context.Context, token string) (counter.Screen, error) {
	return d.svc.Confirm(ctx, token)
}

// Refuse refuses the activation with a reason code.
func (d *desk) Refuse(ctx context.Context, token string, why counter.Reason) (counter.Screen, error) {
	return d.svc.Refuse(ctx, token, why)
}

// Activation returns an activation's stored state.
func (d *desk) Activation(ctx context.Context, id string) (counter.Stored, error) {
	return d.svc.Status(ctx, id)
}

// Current returns the screen, its version and a channel closed on change.
func (d *desk) Current() (counter.Screen, uint64, <-chan struct{}) { return d.board.Current() }

// SetPIN enrols an official or resets a PIN (the technician's route).
func (d *desk) SetPIN(ctx context.Context, official, pin string) error {
	return d.offs.SetPIN(ctx, official, pin)
}

// board holds the latest counter screen for long polls.
type board struct {
	mu      sync.Mutex
	v       uint64
	s       counter.Screen
	changed chan struct{}
}

// set is the counter's OnChange: it runs under the counter's lock, so it
// only stores.
func (b *board) set(s counter.Screen) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.s = s
	b.v++
	if b.changed != nil {
		close(b.changed)
	}
	b.changed = make(chan struct{})
}

// Current returns the screen, its version and a channel closed on change.
func (b *board) Current() (counter.Screen, uint64, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	return b.s, b.v, b.changed
}

// Command names of the e-ID trust material. "eid_lists" carries a signed key
// set and/or revocation list; a "config" command may carry the same under
// "eid", so that one retained configuration holds all of a device's
// settings.
const commandEIDLists = "eid_lists"

// eidLists are the arguments of the eid_lists command: COSE_Sign1 messages
// signed by the platform's e-ID root, base64 in JSON.
type eidLists struct {
	KeySet      []byte `json:"keyset,omitempty"`
	Revocations []byte `json:"revocations,omitempty"`
}

// trust holds the e-ID QR verifier and keeps the lists the platform sends
// in the state directory, so that a restart offline still verifies.
type trust struct {
	v   *credential.Verifier
	dir string
	log *slog.Logger
}

const (
	keySetFile      = "keyset.cose"
	revocationsFile = "revocations.cose"
)

// openTrust loads the root key and the lists kept from the last sync.
func openTrust(cfg *config.Daemon, log *slog.Logger) (*trust, error) {
	b, err := os.ReadFile(cfg.EID.RootKey)
	if err != nil {
		return nil, fmt.Errorf("eid.root_key: %w", err)
	}
	root, err := credential.ParsePublicKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("eid.root_key: %s: %w", cfg.EID.RootKey, err)
	}
	v, err := credential.NewVerifier(root, credential.Options{
		Require: credential.Level(cfg.EID.Require), ClockSkew: cfg.EID.ClockSkew.D(), MaxRevocationAge: cfg.EID.MaxRevocationAge.D(),
	})
	if err != nil {
		return nil, fmt.Errorf("eid: %w", err)
	}
	t := &trust{v: v, dir: filepath.Join(cfg.StateDir, "eid"), log: log.With("component", "eid-trust")}
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return nil, err
	}
	// A list kept from before that no longer checks (a new root key) is
	// reported and left for the next sync to replace.
	if b, err := os.ReadFile(filepath.Join(t.dir, keySetFile)); err == nil {
		if _, err := v.SetKeySet(b); err != nil {
			t.log.Warn("kept key set refused", "err", err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(t.dir, revocationsFile)); err == nil {
		if _, _, err := v.SetRevocations(b); err != nil {
			t.log.Warn("kept revocation list refused", "err", err)
		}
	}
	return t, nil
}

// Verify checks the text of an e-ID QR code now.
func (t *trust) Verify(text string) credential.Verdict {
	return credential.NewVerdict(t.v.Verify(text, time.Now()))
}

// apply takes the lists of an eid_lists or config command. Each is checked
// against the root key before it replaces the kept one.
func (t *trust) apply(cmd *envelope.Command) error {
	var l eidLists
	switch cmd.Name {
	case commandEIDLists:
		if err := json.Unmarshal(cmd.Args, &l); err != nil {
			return fmt.Errorf("eid_lists: %w", err)
		}
	case "config":
		var c struct {
			EID *eidLists `json:"eid"`
		}
		if err := json.Unmarshal(cmd.Args, &c); err != nil || c.EID == nil {
			return nil // not ours to judge: the checkout reports a bad config
		}
		l = *c.EID
	default:
		return nil
	}
	if len(l.KeySet) > 0 {
		ks, err := t.v.SetKeySet(l.KeySet)
		if err != nil {
			return fmt.Errorf("eid key set: %w", err)
		}
		if err := writeFileSync(filepath.Join(t.dir, keySetFile), l.KeySet); err != nil {
			return err
		}
		t.log.Info("eid key set loaded", "keys", len(ks.Keys))
	}
	if len(l.Revocations) > 0 {
		seq, at, err := t.v.SetRevocations(l.Revocations)
		if err != nil {
			return fmt.Errorf("eid revocation list: %w", err)
		}
		if err := writeFileSync(filepath.Join(t.dir, revocationsFile), l.Revocations); err != nil {
			return err
		}
		t.log.Info("eid revocation list loaded", "seq", seq, "issued", at)
	}
	return nil
}

// writeFileSync replaces path atomically and durably: a power cut leaves
// the old list or the new one, never half of one.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// TechnicianTokenFile is the file, in the state directory, of the token
// that the technician's routes require. Only root can read it, so only a
// technician with a shell on the appliance (guichet official set-pin) can
// enrol an official, not someone at the counter's browser.
const TechnicianTokenFile = "technician.token"

// technicianToken returns the technician's token, creating it on the first
// start.
func technicianToken(stateDir string) (string, error) {
	path := filepath.Join(stateDir, TechnicianTokenFile)
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) >= 32 {
		return string(bytes.TrimSpace(b)), nil
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw[:])
	if err := writeFileSync(path, []byte(tok+"\n")); err != nil {
		return "", fmt.Errorf("technician token: %w", err)
	}
	return tok, nil
}
