package config

import (
	"strings"
	"testing"
	"time"
)

func TestEIDDefaultsOff(t *testing.T) {
	c, err := LoadDaemon(writeConf(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.EID.Counter || c.EID.RootKey != "" || c.EID.SessionIdle.D() != 5*time.Minute || c.EID.FrameRate != 10 {
		t.Fatalf("e-ID defaults: %+v", c.EID)
	}
}

func TestEIDCounterConfig(t *testing.T) {
	ok := minimal + `devices: {face_camera: {driver: folder, options: {path: /tmp/frames}}}
eid: {counter: true, subject_key_file: /etc/guichet/subject.key, challenge: turn_left, face: {threshold: 0.4}}
`
	c, err := LoadDaemon(writeConf(t, ok))
	if err != nil {
		t.Fatal(err)
	}
	if !c.EID.Counter || c.Devices.FaceCamera.Driver != "folder" || c.EID.Challenge != "turn_left" {
		t.Fatalf("e-ID counter config: %+v", c.EID)
	}
}

func TestEIDBadConfigNamesTheField(t *testing.T) {
	cases := []struct{ name, conf, want string }{
		{"counter without camera", "eid: {counter: true, subject_key_file: /k}\n", "devices.face_camera.driver"},
		{"counter without key", "devices: {face_camera: {driver: v4l2}}\neid: {counter: true}\n", "eid.subject_key_file"},
		{"unknown challenge", "eid: {challenge: smile}\n", "eid.challenge"},
		{"tiny session", "eid: {session_idle: 1ms}\n", "eid.session_idle"},
		{"frame rate", "eid: {frame_rate: 1000}\n", "eid.frame_rate"},
		{"negative frame rate", "eid: {frame_rate: -1}\n", "eid.frame_rate"},
		{"unknown level", "eid: {require: gold}\n", "eid.require"},
		{"negative skew", "eid: {clock_skew: -1s}\n", "eid.clock_skew"},
		{"negative revocation age", "eid: {max_revocation_age: -1h}\n", "eid.max_revocation_age"},
		{"unknown field", "eid: {pin: 1234}\n", "pin"},
		{"counter not a bool", "eid: {counter: maybe}\n", "line 4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadDaemon(writeConf(t, minimal+tc.conf))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
}
