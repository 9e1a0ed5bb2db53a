package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/facescene"
	"github.com/guichet/guichet/internal/shared"
)

// The citizen on the simulated card. The test searches the state and the
// logs for these after the activations.
const (
	citizenName = "Lefèvre-Zhou Anaïs"
	citizenID   = "110101199003078515"
	citizenDoc  = "E98765432"
	citizenAddr = "12 Rue des Lilas, Nansha"
	official    = "off-7"
	officialPIN = "482913"
)

// eidRig is the end-to-end rig with the e-ID counter on: the simulated card
// reader holds ORL subject 5's card, the simulated face camera plays the same
// subject turning the head, and the QR verifier trusts a root made by
// `guichet eid issue`.
type eidRig struct {
	*Rig
	issuer string // the demo platform's e-ID directory (root, key set, lists)
	token  string
}

func newEIDRig(t *testing.T) *eidRig {
	r := &eidRig{Rig: NewRig(t), issuer: filepath.Join(t.TempDir(), "issuer")}
	frames := filepath.Join(r.Dir, "frames")
	orl := shared.Testdata("faces", "orl")
	if _, err := facescene.Write(orl, 5, frames); err != nil {
		t.Fatal(err)
	}
	photo := filepath.Join(r.Dir, "card.png")
	if err := facescene.WritePhoto(orl, 5, 1, photo); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(r.Dir, "subject.key")
	write(t, key, "a subject key of more than 32 bytes, for the test only")
	r.Run("guichet", "eid", "issue", "--dir", r.issuer) // creates the root and the lists
	conf, err := os.ReadFile(r.DevConf)
	if err != nil {
		t.Fatal(err)
	}
	conf = append(conf, fmt.Sprintf(`devices:
  card_reader: {driver: sim, options: {photo: %q, delay: 100ms, card: {kind: cn-resident, name: %q, id_number: %q, document_number: %q, address: %q, birth_date: "1990-03-07", issuer: "Nansha PSB", verified: true}}}
  face_camera: {driver: folder, options: {path: %q, fps: 20}}
eid:
  counter: true
  subject_key_file: %q
  challenge: turn_left
  frame_rate: 20
  root_key: %q
`, photo, citizenName, citizenID, citizenDoc, citizenAddr, frames, key, filepath.Join(r.issuer, "root.pem"))...)
	write(t, r.DevConf, string(conf))
	return r
}

// screen is the part of the counter's screen the test reads.
type screen struct {
	Step       string `json:"step"`
	Activation string `json:"activation"`
	CanConfirm bool   `json:"can_confirm"`
	Liveness   struct {
		State string `json:"state"`
	} `json:"liveness"`
	Match *struct {
		Score float64 `json:"score"`
		Match bool    `json:"match"`
	} `json:"match"`
	Error string `json:"error"`
}

// post calls the counter's API and returns the HTTP status and the body.
func (r *eidRig) post(path string, body any) (int, []byte) {
	r.T.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d%s", r.UIPort, path), rd)
	req.Header.Set("Content-Type", "application/json")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// step calls a step of the flow, which must succeed, and returns the screen.
func (r *eidRig) step(path string, body any) screen {
	r.T.Helper()
	code, b := r.post(path, body)
	var rep struct {
		Screen screen `json:"screen"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal(b, &rep); err != nil || code != http.StatusOK {
		r.T.Fatalf("%s: %d %s", path, code, b)
	}
	return rep.Screen
}

func (r *eidRig) current() screen {
	r.T.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/eid/screen", r.UIPort))
	if err != nil {
		r.T.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct {
		Screen screen `json:"screen"`
	}
	json.NewDecoder(resp.Body).Decode(&b)
	return b.Screen
}

// activate runs one activation up to the official's confirmation and
// returns the screen after it.
func (r *eidRig) activate() screen {
	r.T.Helper()
	if sc := r.step("/api/eid/begin", nil); sc.Step != "card" {
		r.T.Fatalf("begin: %+v", sc)
	}
	if sc := r.step("/api/eid/card", nil); sc.Step != "face" {
		r.T.Fatalf("card: %+v", sc)
	}
	var sc screen
	r.Eventually(60*time.Second, "the face check to finish", func() bool {
		sc = r.current()
		return sc.Step != "face"
	})
	if sc.Step != "review" || sc.Liveness.State != "passed" || sc.Match == nil || !sc.Match.Match || !sc.CanConfirm {
		r.T.Fatalf("after the face check: %+v", sc)
	}
	r.T.Logf("liveness %s, score %.3f", sc.Liveness.State, sc.Match.Score)
	return r.step("/api/eid/confirm", nil)
}

// TestEIDCounterActivation runs the official's whole flow through guichetd's
// API with the simulated card and the face camera playing real faces:
// enrolment of the official by the technician's command, sign-in, an
// activation while the platform is down (queued, then activated when it
// is back), one while it is up, the audit log, and no personal data left in
// the state directory or the logs.
func TestEIDCounterActivation(t *testing.T) {
	r := newEIDRig(t)
	r.StartDaemon()

	// Nobody at the counter's browser can enrol an official.
	if code, _ := r.post("/api/eid/officials/intruder/pin", map[string]string{"pin": "12345678"}); code != http.StatusUnauthorized {
		t.Fatalf("setting a PIN without the technician token: %d", code)
	}
	pinFile := filepath.Join(r.Dir, "pin")
	write(t, pinFile, officialPIN+"\n")
	r.Run("guichet", "--config", r.DevConf, "official", "set-pin", "--id", official, "--pin-file", pinFile)
	if _, errOut, err := r.RunErr("guichet", "--config", r.DevConf, "official", "set-pin", "--id", "admin", "--pin-file", pinFile); err == nil || !strings.Contains(errOut, "shared") {
		t.Fatalf("a shared account was enrolled: %v %s", err, errOut)
	}

	// Hostile requests get a clear refusal and change nothing.
	for _, c := range []struct {
		path string
		body any
		want int
	}{
		{"/api/eid/signin", "not an object", http.StatusBadRequest},
		{"/api/eid/signin", map[string]string{"official": strings.Repeat("x", 20000), "pin": "1"}, http.StatusBadRequest},
		{"/api/eid/begin", nil, http.StatusUnauthorized},
		{"/api/eid/confirm", nil, http.StatusUnauthorized},
		{"/api/eid/refuse", map[string]string{"reason": "because"}, http.StatusBadRequest},
	} {
		if code, b := r.post(c.path, c.body); code != c.want || !strings.Contains(string(b), `"error"`) {
			t.Errorf("%s %v: %d %s, want %d with an error", c.path, c.body, code, b, c.want)
		}
	}
	if code, _ := r.post("/api/eid/signin", map[string]string{"official": official, "pin": "000000"}); code != http.StatusUnauthorized {
		t.Fatalf("wrong PIN: %d", code)
	}
	code, b := r.post("/api/eid/signin", map[string]string{"official": official, "pin": officialPIN})
	var in struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(b, &in); code != http.StatusOK || in.Token == "" {
		t.Fatalf("sign in: %d %s", code, b)
	}
	r.token = in.Token

	// Offline: the activation is stored and the screen says queued.
	sc := r.activate()
	if sc.Step != "queued" || sc.Activation == "" {
		t.Fatalf("confirmed offline: %+v", sc)
	}
	first := sc.Activation
	r.StartPlatform()
	r.Eventually(30*time.Second, "the queued activation to be activated", func() bool { return r.current().Step == "activated" })

	// Online: the platform's ack turns it activated.
	sc = r.activate()
	second := sc.Activation
	r.Eventually(30*time.Second, "the second activation to be activated", func() bool { return r.current().Step == "activated" })
	for _, id := range []string{first, second} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/eid/activations/%s", r.UIPort, id))
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Status   string `json:"status"`
			Official string `json:"official"`
		}
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.Status != "activated" || st.Official != official {
			t.Fatalf("activation %s: %+v", id, st)
		}
	}
	if s := r.Stats(); s.Applied < 2 {
		t.Fatalf("platform applied %d records, want the two activations at least", s.Applied)
	}
	if code, _ := r.post("/api/eid/signout", nil); code != http.StatusOK {
		t.Fatalf("sign out: %d", code)
	}
	if code, _ := r.post("/api/eid/begin", nil); code != http.StatusUnauthorized {
		t.Fatalf("a step after signing out: %d", code)
	}
	r.StopDaemon()

	var rep struct {
		Entries int  `json:"entries"`
		OK      bool `json:"ok"`
	}
	if err := json.Unmarshal([]byte(r.Run("guichet", "--config", r.DevConf, "audit")), &rep); err != nil || !rep.OK || rep.Entries < 10 {
		t.Fatalf("audit log: %+v %v", rep, err)
	}

	// Privacy: nothing of the citizen in the device's files or the logs.
	needles := []string{citizenName, citizenID, citizenDoc, citizenAddr, "Lef", "Anaïs"}
	err := filepath.WalkDir(r.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".yaml") || strings.HasPrefix(p, filepath.Join(r.Dir, "frames")) || strings.HasSuffix(p, "card.png") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s holds %q", p, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEIDVerifierTakesPushedLists verifies an e-ID code through the daemon
// while the platform pushes the key set and then a revocation list with
// `guichet-platform push`; the lists survive a restart.
func TestEIDVerifierTakesPushedLists(t *testing.T) {
	r := newEIDRig(t)
	r.StartPlatform()
	r.StartDaemon()
	r.Eventually(20*time.Second, "link up", func() bool { return r.Status().Link.Connected })
	code := strings.TrimSpace(r.Run("guichet", "eid", "issue", "--dir", r.issuer, "--level", "full"))
	verify := func() (valid bool, reason string) {
		t.Helper()
		c, b := r.post("/api/eid/verify", map[string]string{"text": code})
		var v struct {
			Valid  bool   `json:"valid"`
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(b, &v); err != nil || c != http.StatusOK {
			t.Fatalf("verify: %d %s", c, b)
		}
		return v.Valid, v.Reason
	}
	if ok, why := verify(); ok {
		t.Fatalf("a code was accepted before any key set was pushed (%s)", why)
	}
	for _, text := range []string{"", "HC1:NCFOXN%TS3DH", "GEID1:" + strings.Repeat("%", 4000), "GEID1:" + code[6:len(code)/2]} {
		c, b := r.post("/api/eid/verify", map[string]string{"text": text})
		if c != http.StatusOK || !strings.Contains(string(b), `"valid":false`) || strings.Contains(string(b), `"reason":""`) {
			t.Errorf("verify %.20q: %d %s, want a refusal with its reason", text, c, b)
		}
	}
	if c, _ := r.post("/api/eid/verify", map[string]string{"text": strings.Repeat("A", 1<<20)}); c != http.StatusBadRequest {
		t.Errorf("a 1 MB request: %d, want 400", c)
	}
	pushLists := func() {
		t.Helper()
		ks, err := os.ReadFile(filepath.Join(r.issuer, "keyset.cose"))
		if err != nil {
			t.Fatal(err)
		}
		rl, err := os.ReadFile(filepath.Join(r.issuer, "revocations.cose"))
		if err != nil {
			t.Fatal(err)
		}
		args, _ := json.Marshal(map[string][]byte{"keyset": ks, "revocations": rl})
		f := filepath.Join(r.Dir, "lists.json")
		write(t, f, string(args))
		r.Run("guichet-platform", "--config", r.PlatConf, "push", "--tenant", "shop-1", "--device", "till-1", "--name", "eid_lists", "--args-file", f)
	}
	pushLists()
	r.Eventually(20*time.Second, "the pushed key set to verify the code", func() bool { ok, _ := verify(); return ok })

	// A key set signed by another root is refused and changes nothing.
	bad, _ := json.Marshal(map[string]string{"keyset": "AAAA"})
	f := filepath.Join(r.Dir, "bad.json")
	write(t, f, string(bad))
	// The push waits for the device's report: it exits 1 with the refusal
	// (it used to exit 0 on the broker's PUBACK).
	out, errb, err := r.RunErr("guichet-platform", "--config", r.PlatConf, "push", "--tenant", "shop-1", "--device", "till-1", "--name", "eid_lists", "--args-file", f)
	if err == nil || !strings.HasPrefix(out, "refused: failed") {
		t.Fatalf("push of a bad key set: %v, stdout %q, stderr %q; want exit 1 and \"refused: failed\"", err, out, errb)
	}
	r.Eventually(20*time.Second, "the bad key set to be refused", func() bool { return strings.Contains(r.Log("guichetd"), "eid key set") })
	if ok, why := verify(); !ok {
		t.Fatalf("a refused key set changed the verifier: %s", why)
	}

	// The code is revoked: the issuer's new list is pushed.
	r.Run("guichet", "eid", "issue", "--dir", r.issuer, "--revoke") // another code, on the list
	revoked := strings.TrimSpace(r.Run("guichet", "eid", "issue", "--dir", r.issuer, "--revoke"))
	pushLists()
	r.Eventually(20*time.Second, "the revocation list", func() bool {
		c, b := r.post("/api/eid/verify", map[string]string{"text": revoked})
		return c == http.StatusOK && strings.Contains(string(b), `"reason":"revoked"`)
	})

	// The lists were kept: after a restart without the platform, the code
	// still verifies.
	r.StopDaemon()
	r.StopPlatform()
	r.StartDaemon()
	if ok, why := verify(); !ok {
		t.Fatalf("after a restart: %s", why)
	}
}
