package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/config"

	"github.com/guichet/guichet/device/camera"
	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/eid/counter"
	"github.com/guichet/guichet/eid/credential"
	"github.com/guichet/guichet/eid/face"
	"github.com/guichet/guichet/eid/vault"
	"github.com/guichet/guichet/sync/outbox"
)

// openDesk opens what the e-ID counter needs, as the configuration names
// it: the face models, the face camera, the vault and the audit log; the
// card reader is the one OpenDevices opened, the store the outbox, which
// also holds the officials' PINs, and the audit log the store's, shared
// with the tamper switch, whose lock refuses activations. closeDesk
// releases the desk, then the face models.
func openDesk(ctx context.Context, cfg *config.Daemon, store *outbox.Store, al *audit.Log, lock func() error, reader cardreader.Reader, log *slog.Logger) (_ *counter.Desk, closeDesk func(), err error) {
	subjectKey, err := readSubjectKey(cfg.EID.SubjectKeyFile)
	if err != nil {
		return nil, nil, err
	}
	var fc face.Config
	if err := strictDecode(&cfg.EID.Face, &fc); err != nil {
		return nil, nil, fmt.Errorf("eid.face: %w", err)
	}
	engine, err := face.Open(fc)
	if err != nil {
		return nil, nil, fmt.Errorf("eid.face: %w", err)
	}
	var dk *counter.Desk
	closeDesk = func() {
		if dk != nil {
			dk.Close()
		}
		engine.Close()
	}
	defer func() {
		if err != nil {
			closeDesk()
		}
	}()
	fcam := cfg.Devices.FaceCamera
	openCam := func(ctx context.Context) (counter.FaceCamera, error) {
		c, err := camera.Drivers.Open(ctx, fcam.Driver, &fcam.Options)
		if err != nil {
			return nil, fmt.Errorf("devices.face_camera: %w", err)
		}
		return c, nil
	}
	// Opened once at start so that a wrong camera stops the daemon now,
	// not when the first citizen sits down.
	c, err := openCam(ctx)
	if err != nil {
		return nil, nil, err
	}
	c.Close()
	v, err := vault.Open(filepath.Join(cfg.StateDir, "vault"))
	if err != nil {
		return nil, nil, err
	}
	var challenge func() face.Challenge
	if c := cfg.EID.Challenge; c != "" {
		challenge = func() face.Challenge { return face.Challenge(c) }
	}
	dk, err = counter.NewDesk(counter.DeskConfig{Config: counter.Config{
		Store: store, Audit: al, Vault: v, Reader: reader,
		Faces: counter.EngineFaces(engine), Officials: &counter.Officials{Store: store},
		SubjectKey: subjectKey, SessionIdle: cfg.EID.SessionIdle.D(), Challenge: challenge, Log: log, Lock: lock,
	}, OpenCamera: openCam, FrameRate: cfg.EID.FrameRate})
	if err != nil {
		return nil, nil, err
	}
	// Card data left in the vault by activations that ended while the
	// daemon was down is destroyed before anyone signs in.
	if err := dk.Service().Sweep(ctx); err != nil {
		return nil, nil, err
	}
	return dk, closeDesk, nil
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

// openTrust opens the e-ID QR verifier: the root key the configuration
// names, and the lists the platform sent, kept in the state directory.
func openTrust(cfg *config.Daemon, log *slog.Logger) (*credential.Trust, error) {
	dir := filepath.Join(cfg.StateDir, "eid")
	t, err := credential.OpenTrust(cfg.EID.RootKey, filepath.Join(dir, "keyset.cose"), filepath.Join(dir, "revocations.cose"), credential.Options{
		Require: credential.Level(cfg.EID.Require), ClockSkew: cfg.EID.ClockSkew.D(), MaxRevocationAge: cfg.EID.MaxRevocationAge.D(),
	}, log)
	if err != nil {
		return nil, fmt.Errorf("eid.root_key: %w", err)
	}
	return t, nil
}
