//go:build !noopencv

package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device/camera"
	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/eid/counter"
	"github.com/guichet/guichet/eid/face"
	"github.com/guichet/guichet/eid/vault"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/ui"
)

// openDesk opens what the e-ID counter needs, as the configuration names
// it: the face models, the face camera, the vault and the audit log; the
// card reader is the one OpenDevices opened, the store the outbox, which
// also holds the officials' PINs, and the audit log the store's, shared
// with the tamper switch, whose lock refuses activations. closeDesk
// releases the desk, then the face models.
func openDesk(ctx context.Context, cfg *config.Daemon, store *outbox.Store, al *audit.Log, lock func() error, reader cardreader.Reader, log *slog.Logger) (_ *eidDesk, closeDesk func(), err error) {
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
	return &eidDesk{dk}, closeDesk, nil
}

// eidDesk is the e-ID counter's desk, as the daemon wires it.
type eidDesk struct{ *counter.Desk }

// route hands the desk the platform's results to its activations.
func (d *eidDesk) route(r *link.Router) { r.HandleResults(d.Service().OnResult, counter.RecordType) }

// serve gives the UI the desk's screens and its officials.
func (d *eidDesk) serve(srv *ui.Server) { srv.Counter, srv.Officials = d.Desk, d.Desk }
