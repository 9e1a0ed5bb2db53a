package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseRenewBefore(t *testing.T) {
	good := map[string]RenewBefore{
		"0.33": {Fraction: 0.33}, "1/3": {Fraction: 1.0 / 3}, " 0.5 ": {Fraction: 0.5},
		"240h": {Duration: 240 * time.Hour}, "90m": {Duration: 90 * time.Minute},
	}
	for s, want := range good {
		if got, err := ParseRenewBefore(s); err != nil || got.Fraction != want.Fraction || got.Duration != want.Duration {
			t.Errorf("ParseRenewBefore(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "a third", "1/0", "1/", "/3", "3 days", "0x1p-2h", "1/3/4"} {
		if got, err := ParseRenewBefore(s); err == nil {
			t.Errorf("ParseRenewBefore(%q) = %+v, accepted", s, got)
		}
	}
}

func TestRenewBeforeAt(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(90 * time.Hour)
	if got := (RenewBefore{Fraction: 1.0 / 3}).At(nb, na); !got.Equal(nb.Add(60 * time.Hour)) {
		t.Errorf("a third: %v", got)
	}
	if got := (RenewBefore{Duration: 24 * time.Hour}).At(nb, na); !got.Equal(nb.Add(66 * time.Hour)) {
		t.Errorf("24h: %v", got)
	}
	// Longer than the certificate's life: half of it, not renewal at once.
	if got := (RenewBefore{Duration: 1000 * time.Hour}).At(nb, na); !got.Equal(nb.Add(45 * time.Hour)) {
		t.Errorf("1000h: %v", got)
	}
}

// enrolledConf writes conf with a state_dir that holds an enrolment marker.
func enrolledConf(t *testing.T, conf string) string {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "enrolment"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, EnrolledMarker), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	return writeConf(t, "state_dir: "+dir+"\n"+conf)
}

func TestEnrolledBox(t *testing.T) {
	// Name, brokers and platform key come from the enrolment.
	c, err := LoadDaemon(enrolledConf(t, "hardware: sim\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Device.ID != "" || c.Device.Tenant != "" || !c.Enrolled() {
		t.Fatalf("enrolled box got a default name: %+v", c.Device)
	}
	if r := c.Enrolment.RenewBefore; r.Fraction != 1.0/3 || r.Duration != 0 {
		t.Fatalf("renew_before default: %+v", c.Enrolment.RenewBefore)
	}
	if c, err := LoadDaemon(enrolledConf(t, "device: {id: till-1, tenant: shop}\nenrolment: {renew_before: 240h}\n")); err != nil || c.Enrolment.RenewBefore.Duration != 240*time.Hour {
		t.Fatalf("enrolled box with its name: %v", err)
	}
	cases := []struct{ name, conf, want string }{
		{"broker urls", `broker: {urls: ["ssl://h:8883"]}` + "\n", "broker.urls"},
		{"platform key", `platform_key: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="` + "\n", "platform_key"},
		{"platform key file", "platform_key_file: /x\n", "platform_key_file"},
		{"broker cert", "broker: {cert: /x, key: /y}\n", "broker.cert"},
		{"broker ca", "broker: {ca: /x}\n", "broker.ca"},
		{"broker password", "broker: {password_file: /x}\n", "broker.password_file"},
		{"bad device id", "device: {id: a/b}\n", "device.id"},
		{"bad tenant", "device: {tenant: 'a b'}\n", "device.tenant"},
		{"fraction too large", "enrolment: {renew_before: 0.95}\n", "enrolment.renew_before"},
		{"fraction zero", "enrolment: {renew_before: 0}\n", "enrolment.renew_before"},
		{"negative fraction", "enrolment: {renew_before: -0.3}\n", "enrolment.renew_before"},
		{"tiny duration", "enrolment: {renew_before: 1s}\n", "enrolment.renew_before"},
		{"negative duration", "enrolment: {renew_before: -1h}\n", "enrolment.renew_before"},
		{"not a value", "enrolment: {renew_before: soon}\n", "not a fraction"},
		{"unknown field", "enrolment: {renew: 0.3}\n", "renew"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadDaemon(enrolledConf(t, tc.conf))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v: want one line naming %q", err, tc.want)
			}
		})
	}
	// Not enrolled: the old rules hold.
	if _, err := LoadDaemon(writeConf(t, "state_dir: "+t.TempDir()+"\n")); err == nil || !strings.Contains(err.Error(), "device.id") {
		t.Fatalf("blank box without a name: %v", err)
	}
}

func TestLoadForEnrolment(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadForEnrolment(writeConf(t, "state_dir: "+dir+"\n"))
	if err != nil || c.StateDir != dir {
		t.Fatalf("blank box: %+v, %v", c, err)
	}
	for conf, want := range map[string]string{
		"device: {id: 'a b'}\n":          "device.id",
		"enrolment: {renew_before: 2}\n": "enrolment.renew_before",
		"colour: blue\n":                 "colour",
	} {
		_, err := LoadForEnrolment(writeConf(t, conf))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", conf, err, want)
		}
	}
}
