package ui_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	displaysim "github.com/guichet/guichet/device/display/sim"
	"github.com/guichet/guichet/internal/logring"
	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/ui"
)

// techRig is a UI server with the technician's tools on a real outbox,
// staff and log ring, and a technician's and a cashier's sessions.
type techRig struct {
	ob            *outbox.Store
	logs          *logring.Ring
	log           *slog.Logger
	srv           *ui.Server
	http          *httptest.Server
	tech, cashier string // session cookies
}

func newTechRig(t *testing.T, set func(*ui.Server)) *techRig {
	t.Helper()
	_, key, _ := ed25519.GenerateKey(nil)
	ob, err := outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), outbox.Identity{Tenant: "shop1", Device: "till1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	r := &techRig{ob: ob, logs: logring.New(100)}
	r.log = slog.New(r.logs.Handler(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug})))
	people := seedStaff(t, ob)
	if err := people.Add(context.Background(), technicianID, "赵敏", staff.Technician, technicianPIN); err != nil {
		t.Fatal(err)
	}
	r.srv = &ui.Server{Screen: displaysim.New(), Scans: ui.NewScans(), SyncNow: func() {}, Status: func() any { return map[string]string{"device": "till1"} },
		Languages: []string{"zh", "en", "fr"}, Log: r.log, Staff: people, Logs: r.logs, Queue: ob}
	if set != nil {
		set(r.srv)
	}
	r.http = httptest.NewServer(r.srv.Handler())
	t.Cleanup(r.http.Close)
	r.tech = r.signIn(t, "/api/tech/signin", `{"technician":"`+technicianID+`","pin":"`+technicianPIN+`"}`)
	r.cashier = r.signIn(t, "/api/signin", `{"cashier":"`+cashierID+`","pin":"`+cashierPIN+`"}`)
	return r
}

func (r *techRig) signIn(t *testing.T, path, body string) string {
	t.Helper()
	code, _, resp := r.call(t, "POST", path, body, "")
	for _, c := range resp.Cookies() {
		if c.Name == "guichet_session" {
			return c.Value
		}
	}
	t.Fatalf("sign-in %s: %d, no cookie", path, code)
	return ""
}

// call sends a request as the page would (JSON, the appliance's Origin).
func (r *techRig) call(t *testing.T, method, path, body, cookie string) (int, string, *http.Response) {
	t.Helper()
	hr, err := http.NewRequest(method, r.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method != "GET" {
		hr.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		hr.AddCookie(&http.Cookie{Name: "guichet_session", Value: cookie})
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp
}

// TestTechToolsAreTheTechnicians: no session 401, a cashier's 403.
func TestTechToolsAreTheTechnicians(t *testing.T) {
	r := newTechRig(t, nil)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/api/tech/logs", ""},
		{"GET", "/api/tech/rejected", ""},
		{"POST", "/api/tech/rejected/x/1/skip", `{"reason":"r"}`},
	} {
		if code, body, _ := r.call(t, c.method, c.path, c.body, ""); code != 401 {
			t.Errorf("%s %s without a session: %d %s", c.method, c.path, code, body)
		}
		if code, body, _ := r.call(t, c.method, c.path, c.body, r.cashier); code != 403 {
			t.Errorf("%s %s as a cashier: %d %s", c.method, c.path, code, body)
		}
	}
}

// TestTechLogsRedacted: the page's logs carry no personal data.
func TestTechLogsRedacted(t *testing.T) {
	r := newTechRig(t, nil)
	r.log.Warn("card refused", "name", "Marie Curie", "pin", "123456", "code", "ENR-7Q4K-93XD", "card", "6222020200112233", "seq", 17, "device", "till1")
	r.log.Debug("tick")
	code, body, _ := r.call(t, "GET", "/api/tech/logs?level=warn", "", r.tech)
	if code != 200 {
		t.Fatalf("logs: %d %s", code, body)
	}
	for _, secret := range []string{"Marie", "123456", "ENR-7Q4K", "6222020200112233"} {
		if strings.Contains(body, secret) {
			t.Errorf("%q in the logs served: %s", secret, body)
		}
	}
	var got struct{ Records []logring.Record }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	var card *logring.Record
	for i := range got.Records {
		if got.Records[i].Msg == "tick" {
			t.Errorf("a debug record at level=warn")
		}
		if got.Records[i].Msg == "card refused" {
			card = &got.Records[i]
		}
	}
	if card == nil || card.Attrs["seq"] != "17" || card.Attrs["device"] != "till1" || card.Attrs["name"] != logring.Redacted || card.Attrs["pin"] != logring.Redacted {
		t.Errorf("record %+v", card)
	}
	if code, _, _ := r.call(t, "GET", "/api/tech/logs?level=loud", "", r.tech); code != 400 {
		t.Errorf("a bad level: %d", code)
	}
}

// TestTechSkipRejected: a record the platform rejected blocks the queue;
// the technician moves past it with a reason, the queue goes on and its
// audit trail names the technician and the reason.
func TestTechSkipRejected(t *testing.T) {
	r := newTechRig(t, nil)
	ctx := context.Background()
	for i := range 4 {
		if _, err := r.ob.Append(ctx, outbox.Record{Key: fmt.Sprintf("k-%d", i), Type: "test", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.ob.Ack(ctx, 1); err != nil {
		t.Fatal(err)
	}
	id := r.ob.Identity()
	// As the link notes the platform's answer to a batch.
	if err := r.ob.NoteRejections(ctx, id, []envelope.Reject{{Seq: 2, Reason: "prev hash does not match", Code: envelope.RejectChain}}); err != nil {
		t.Fatal(err)
	}
	if r.ob.Stats().Blocked != 1 {
		t.Fatalf("not blocked: %+v", r.ob.Stats())
	}
	code, body, _ := r.call(t, "GET", "/api/tech/rejected", "", r.tech)
	if code != 200 || !strings.Contains(body, `"seq":2`) || !strings.Contains(body, `"code":"chain"`) {
		t.Fatalf("rejected: %d %s", code, body)
	}
	skip := func(seq int, reason string) (int, string) {
		c, b, _ := r.call(t, "POST", fmt.Sprintf("/api/tech/rejected/%s/%d/skip", id, seq), `{"reason":`+fmt.Sprintf("%q", reason)+`}`, r.tech)
		return c, b
	}
	for _, c := range []struct {
		name   string
		seq    int
		reason string
		want   int
	}{
		{"no reason", 2, "  ", 400},
		{"too long a reason", 2, strings.Repeat("x", 501), 400},
		{"a record not rejected", 3, "r", 404},
	} {
		if code, body := skip(c.seq, c.reason); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
	}
	if code, body, _ := r.call(t, "POST", "/api/tech/rejected/not-an-id/2/skip", `{"reason":"r"}`, r.tech); code != 400 {
		t.Errorf("a bad outbox id: %d %s", code, body)
	}
	if code, body, _ := r.call(t, "POST", "/api/tech/rejected/"+id.String()+"/2/skip", `{"reason":"r"}`, r.cashier); code != 403 {
		t.Errorf("a cashier moves past: %d %s", code, body)
	}
	if code, body := skip(2, "record edited on the device, ticket 42"); code != 200 {
		t.Fatalf("skip: %d %s", code, body)
	}
	if st := r.ob.Stats(); st.Blocked != 0 || st.Acked != 2 || st.Depth != 2 {
		t.Errorf("after the skip: %+v", st)
	}
	if ents, _ := r.ob.Pending(ctx, 0, 10); len(ents) != 2 || ents[0].Seq != 3 {
		t.Errorf("waiting after the skip: %+v", ents)
	}
	aud, _ := r.ob.Audit(ctx)
	last := aud[len(aud)-1]
	if last.Event != "skip" || last.Seq != 2 || !strings.Contains(last.Detail, "technician:"+technicianID) || !strings.Contains(last.Detail, "ticket 42") {
		t.Errorf("audit %+v", aud)
	}
	code, body, _ = r.call(t, "GET", "/api/tech/rejected", "", r.tech)
	if code != 200 || !strings.Contains(body, `"rejected":[]`) || !strings.Contains(body, "technician:"+technicianID) {
		t.Errorf("after: %d %s", code, body)
	}
}

// TestTechSkipOverTheSocket: on the Unix socket (guichet, the
// administrators' group) the logs and the skip need no session, and the
// audit names the local user.
func TestTechSkipOverTheSocket(t *testing.T) {
	r := newTechRig(t, nil)
	ctx := context.Background()
	for i := range 2 {
		if _, err := r.ob.Append(ctx, outbox.Record{Key: fmt.Sprintf("k-%d", i), Type: "test", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	id := r.ob.Identity()
	if err := r.ob.NoteRejections(ctx, id, []envelope.Reject{{Seq: 1, Reason: "bad signature", Code: envelope.RejectChain}}); err != nil {
		t.Fatal(err)
	}
	local := httptest.NewServer(r.srv.LocalHandler())
	t.Cleanup(local.Close)
	resp, err := http.Get(local.URL + "/api/tech/logs")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("logs over the socket: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	resp, err = http.Post(local.URL+"/api/tech/rejected/"+id.String()+"/1/skip", "application/json", strings.NewReader(`{"reason":"ticket 9"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("skip over the socket: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	aud, _ := r.ob.Audit(ctx)
	if last := aud[len(aud)-1]; last.Event != "skip" || !strings.Contains(last.Detail, `"local:`) || !strings.Contains(last.Detail, "ticket 9") {
		t.Errorf("audit %+v", last)
	}
}
