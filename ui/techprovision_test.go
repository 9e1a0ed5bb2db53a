package ui_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/provision"
	"github.com/guichet/guichet/provision/identity"
	"github.com/guichet/guichet/provision/provisiontest"
	"github.com/guichet/guichet/ui"
)

// memKey is an identity key in memory, as a file key would be.
type memKey struct{ *ecdsa.PrivateKey }

func (memKey) Kind() identity.Kind { return identity.KindFile }

// TestTechProvision enrols the appliance from the technician's page
// against a real provisioning broker and test platform: the scanned code
// (with the scanner's symbology prefix and CR) enrols it, the answer asks
// for a restart, a second enrolment is refused unless forced, and the
// platform's refusal and a broker this box does not trust are said.
func TestTechProvision(t *testing.T) {
	ca := provisiontest.NewCA(t, "platform CA")
	b := provisiontest.StartBroker(t, ca)
	plat := provisiontest.StartPlatform(t, b, ca)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, ca.PEM, 0o600)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _, _ := ed25519.GenerateKey(nil)
	state := filepath.Join(dir, "state")
	prov := &ui.Provisioner{Key: memKey{k}, RecordKey: rk, StateDir: state, Device: "till-7", Broker: b.ProvisionURL(), Timeout: 20 * time.Second}
	r := newTechRig(t, func(s *ui.Server) { s.Provision = prov })

	post := func(cookie string, q ui.ProvisionRequest) (int, map[string]any) {
		body, _ := json.Marshal(q)
		code, resp, _ := r.call(t, "POST", "/api/tech/provision", string(body), cookie)
		var m map[string]any
		json.Unmarshal([]byte(resp), &m)
		return code, m
	}
	good := ui.ProvisionRequest{Code: "]Q1" + strings.ToLower(plat.Code.String()) + "\r\n", CAFile: caFile}
	if code, _ := post("", good); code != 401 {
		t.Errorf("without a session: %d", code)
	}
	if code, _ := post(r.cashier, good); code != 403 {
		t.Errorf("a cashier: %d", code)
	}
	if code, m := post(r.tech, ui.ProvisionRequest{Code: "7KQ2-M9XD", CAFile: caFile}); code != 400 || m["problem"] != "bad_code" {
		t.Errorf("a short code: %d %v", code, m)
	}
	if code, m := post(r.tech, ui.ProvisionRequest{Code: plat.Code.String()}); code != 502 || m["problem"] != "untrusted" {
		t.Errorf("a broker not trusted: %d %v", code, m)
	}
	code, m := post(r.tech, good)
	if code != 200 || m["enrolled"] != true || m["tenant"] != "shop1" || m["device"] != "till-7" || m["site"] != "rue-haute" || m["restart"] != true {
		t.Fatalf("enrol: %d %v\n%s", code, m, b.Log())
	}
	if e, err := provision.LoadEnrolment(state); err != nil || e.Device != "till-7" {
		t.Fatalf("enrolment on disk: %v", err)
	}
	if code, resp, _ := r.call(t, "GET", "/api/tech/provision", "", r.tech); code != 200 || !strings.Contains(resp, `"enrolled":true`) {
		t.Errorf("state: %d %s", code, resp)
	}
	if code, m := post(r.tech, good); code != 409 || m["problem"] != "enrolled" {
		t.Errorf("again: %d %v", code, m)
	}
	forced := ui.ProvisionRequest{Code: "0000-0000-0000-0000", CAFile: caFile, Force: true}
	if code, m := post(r.tech, forced); code != 422 || m["problem"] != "refused" || !strings.Contains(m["error"].(string), "unknown or used code") {
		t.Errorf("a code the platform refuses: %d %v", code, m)
	}
	// The refusal left the enrolment as it was.
	if e, err := provision.LoadEnrolment(state); err != nil || e.Device != "till-7" {
		t.Fatalf("after a refusal: %v", err)
	}
}

// TestParseEnrolCode reads codes as scanners, pastes and hands give them,
// and refuses what is not one.
func TestParseEnrolCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"7KQ2-M9XD-4HTR-B0WZ", "7KQ2M9XD4HTRB0WZ"},
		{"7kq2 m9xd 4htr b0wz", "7KQ2M9XD4HTRB0WZ"},
		{"]Q17KQ2-M9XD-4HTR-B0WZ\r\n", "7KQ2M9XD4HTRB0WZ"},
		{"\t 7KQ2M9XD4HTRBOWZ \n", "7KQ2M9XD4HTRB0WZ"},
		{"]Q0 7KQ2-M9XD-4HTR-B0WZ", "7KQ2M9XD4HTRB0WZ"},
	} {
		c, err := ui.ParseEnrolCode(tc.in)
		if err != nil || string(c) != tc.want {
			t.Errorf("%q: %q %v, want %q", tc.in, c, err, tc.want)
		}
	}
	for _, in := range []string{
		"", "   ", "\r\n", "]Q1", "7KQ2-M9XD-4HTR", "7KQ2-M9XD-4HTR-B0WZ-AAAA", "7KQ2-M9XD-4HTR-B0WU",
		"7KQ2\x00M9XD4HTRB0WZ", "７KQ2-M9XD-4HTR-B0WZ", "]Q1]Q17KQ2M9XD4HTRB0WZ", strings.Repeat("7", 200),
		"https://evil.example/?code=7KQ2M9XD4HTRB0WZ", "<script>7KQ2M9XD4HTRB0WZ</script>", "7KQ2-M9XD-4HTR-B0W\u200bZ",
	} {
		if c, err := ui.ParseEnrolCode(in); err == nil {
			t.Errorf("%q read as %q", in, c)
		}
	}
}

// FuzzParseEnrolCode: whatever a scanner sends, the parser answers a
// valid code or an error, and never panics.
func FuzzParseEnrolCode(f *testing.F) {
	for _, s := range []string{"7KQ2-M9XD-4HTR-B0WZ", "]Q17KQ2M9XD4HTRB0WZ\r", "", "]", "]Q", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ui.ParseEnrolCode(s)
		if err != nil {
			return
		}
		if len(c) != 16 || strings.Trim(string(c), "0123456789ABCDEFGHJKMNPQRSTVWXYZ") != "" {
			t.Fatalf("%q read as %q", s, c)
		}
	})
}
