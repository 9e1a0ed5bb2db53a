package config

import (
	"time"

	"gopkg.in/yaml.v3"
)

// EID configures the government counter. The activation flow runs when
// Counter is true; the e-ID QR verifier runs when RootKey is set. A shop's
// till leaves both off.
type EID struct {
	// Counter turns on the official's flow: sign-in, card, face, confirm.
	// It needs devices.face_camera and SubjectKeyFile.
	Counter bool `yaml:"counter"`
	// SubjectKeyFile holds the key (at least 32 bytes) of the
	// pseudonymous subject ids. It is provisioned with the device, the
	// same on every counter of a tenant, and never sent anywhere.
	SubjectKeyFile string `yaml:"subject_key_file"`
	// Face selects the detector, the matcher and the quality gates
	// (eid/face.Config: face_cascade, eye_cascade, yunet_model,
	// sface_model, threshold, limits, threads).
	Face yaml.Node `yaml:"face"`
	// Challenge fixes the liveness challenge (turn_left or turn_right)
	// for demonstrations and tests; empty, the default, draws one at
	// random for each citizen, which is what a counter must do.
	Challenge string `yaml:"challenge"`
	// SessionIdle signs an official out after this long without activity.
	SessionIdle Duration `yaml:"session_idle"`
	// FrameRate caps the frames per second given to the face check, to
	// leave CPU for the rest of the appliance.
	FrameRate float64 `yaml:"frame_rate"`

	// RootKey is the platform's e-ID root public key (PEM file): it signs
	// the key sets and revocation lists that the platform pushes, which
	// the device keeps in state_dir/eid.
	RootKey string `yaml:"root_key"`
	// Require is the level a code must have to be accepted: "" for any,
	// "limited" or "full".
	Require string `yaml:"require"`
	// ClockSkew is the tolerance on a code's dates for a device clock
	// that drifts while offline.
	ClockSkew Duration `yaml:"clock_skew"`
	// MaxRevocationAge, when set, refuses every code while the revocation
	// list is missing or older than this.
	MaxRevocationAge Duration `yaml:"max_revocation_age"`
}

func (e *EID) setDefaults() {
	if e.SessionIdle == 0 {
		e.SessionIdle = Duration(5 * time.Minute)
	}
	if e.FrameRate == 0 {
		e.FrameRate = 10
	}
}

func (e *EID) validate(d *Devices) error {
	if e.Counter {
		if d.FaceCamera.Driver == "" {
			return fieldErr("devices.face_camera.driver", "must name a camera driver (v4l2, video or folder) when eid.counter is on")
		}
		if e.SubjectKeyFile == "" {
			return fieldErr("eid.subject_key_file", "must be set when eid.counter is on")
		}
	}
	switch e.Challenge {
	case "", "turn_left", "turn_right":
	default:
		return fieldErr("eid.challenge", "unknown challenge %q (want turn_left, turn_right or nothing for random)", e.Challenge)
	}
	if e.SessionIdle.D() < time.Second || e.SessionIdle.D() > 8*time.Hour {
		return fieldErr("eid.session_idle", "must be between 1s and 8h")
	}
	if e.FrameRate <= 0 || e.FrameRate > 60 {
		return fieldErr("eid.frame_rate", "must be between 0 and 60 frames per second")
	}
	switch e.Require {
	case "", "limited", "full":
	default:
		return fieldErr("eid.require", "unknown level %q (want limited, full or nothing)", e.Require)
	}
	if e.ClockSkew < 0 || e.ClockSkew.D() > 24*time.Hour {
		return fieldErr("eid.clock_skew", "must be between 0 and 24h")
	}
	if e.MaxRevocationAge < 0 {
		return fieldErr("eid.max_revocation_age", "must not be negative")
	}
	return nil
}
