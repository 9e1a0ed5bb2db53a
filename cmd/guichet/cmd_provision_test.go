package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/tpmtest"
	"github.com/guichet/guichet/provision"
	"github.com/guichet/guichet/provision/identity"
	"github.com/guichet/guichet/provision/provisiontest"
)

// TestProvisionCommand enrols a blank box against the test platform, then
// checks that guichetd's configuration loads on it with nothing but the
// state directory, and the command's refusals and exit codes.
func TestProvisionCommand(t *testing.T) {
	ca := provisiontest.NewCA(t, "platform CA")
	b := provisiontest.StartBroker(t, ca)
	p := provisiontest.StartPlatform(t, b, ca)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, ca.PEM, 0o600)
	state := filepath.Join(dir, "state")
	conf := filepath.Join(dir, "guichetd.yaml")
	os.WriteFile(conf, []byte("state_dir: "+state+"\nhardware: sim\n"), 0o600)

	prov := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"--config", conf, "provision"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	good := []string{"--code", p.Code.String(), "--broker", b.ProvisionURL(), "--ca", caFile, "--device", "till-7"}
	code, out, errs := prov(good...)
	if code != 0 || out != "enrolled as shop1/till-7 (site rue-haute, role till); device key in a file (weaker: it can be copied)\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q\n%s", code, out, errs, b.Log())
	}
	cfg, err := config.LoadDaemon(conf)
	if err != nil {
		t.Fatalf("guichetd's configuration on the enrolled box: %v", err)
	}
	if _, err := provision.LoadEnrolment(cfg.StateDir); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		args []string
		exit int
		want string
	}{
		{"again", good, 1, "already enrolled"},
		{"no code", []string{"--broker", b.ProvisionURL()}, 2, "--code and --broker"},
		{"no broker", []string{"--code", p.Code.String()}, 2, "--code and --broker"},
		{"mistyped code", []string{"--code", "7KQ2-M9XD-4HTR", "--broker", b.ProvisionURL()}, 2, "--code"},
		{"bad device", []string{"--code", p.Code.String(), "--broker", b.ProvisionURL(), "--device", "a/b"}, 2, "--device"},
		{"missing CA file", []string{"--code", p.Code.String(), "--broker", b.ProvisionURL(), "--ca", filepath.Join(dir, "none.pem")}, 2, "--ca"},
		{"CA file not PEM", []string{"--code", p.Code.String(), "--broker", b.ProvisionURL(), "--ca", conf}, 2, "--ca"},
		{"extra argument", append(good, "now"), 2, "unexpected"},
		{"unknown flag", []string{"--colour", "blue"}, 2, "colour"},
		{"plain broker", []string{"--code", p.Code.String(), "--broker", "tcp://127.0.0.1:1883", "--force"}, 1, "not TLS"},
		{"untrusted broker", []string{"--code", p.Code.String(), "--broker", b.ProvisionURL(), "--device", "till-7", "--force"}, 1, "give it with --ca FILE"},
		{"refused code", []string{"--code", "0000-0000-0000-0000", "--broker", b.ProvisionURL(), "--ca", caFile, "--device", "till-7", "--force"}, 1,
			"refused by the platform: unknown or used code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := prov(tc.args...)
			if code != tc.exit || out != "" || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, tc.exit, out, errs, tc.want)
			}
		})
	}
	// A refusal left the enrolment as it was.
	if e, err := provision.LoadEnrolment(state); err != nil || e.Device != "till-7" {
		t.Fatalf("after a refusal: %v", err)
	}
}

// TestProvisionCommandTPM enrols a box whose identity key is in a TPM
// (swtpm): the output says so, and the binding records it.
func TestProvisionCommandTPM(t *testing.T) {
	tpm := tpmtest.Start(t)
	ca := provisiontest.NewCA(t, "platform CA")
	b := provisiontest.StartBroker(t, ca)
	p := provisiontest.StartPlatform(t, b, ca)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, ca.PEM, 0o600)
	conf := filepath.Join(dir, "guichetd.yaml")
	os.WriteFile(conf, []byte("state_dir: "+filepath.Join(dir, "state")+"\ndevice: {id: counter-2}\nidentity: {kind: tpm, tpm_address: \""+tpm.Addr+"\"}\n"), 0o600)
	var out, errb bytes.Buffer
	code := run([]string{"--config", conf, "provision", "--code", p.Code.String(), "--broker", b.ProvisionURL(), "--ca", caFile}, &out, &errb)
	if code != 0 || out.String() != "enrolled as shop1/counter-2 (site rue-haute, role till); device key in the TPM\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q\n%s", code, out.String(), errb.String(), tpm.Log())
	}
	if e, err := provision.LoadEnrolment(filepath.Join(dir, "state")); err != nil || e.KeyKind != identity.KindTPM {
		t.Fatalf("enrolment: %+v, %v", e, err)
	}
}
