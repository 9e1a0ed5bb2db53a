package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/internal/selftest"
)

// selfTestConfig writes a configuration whose UI is at listen.
func selfTestConfig(t *testing.T, listen string) string {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "guichetd.yaml")
	os.WriteFile(cfg, []byte("device: {id: till-1, tenant: shop-1}\nstate_dir: "+dir+"\nbroker: {urls: [\"tcp://127.0.0.1:1\"]}\n"+
		"platform_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nhardware: sim\nui: {listen: \""+listen+"\"}\n"), 0o600)
	return cfg
}

// `guichet selftest` prints the running daemon's report as a table or
// JSON, and exits 1 when a check failed.
func TestSelfTestThroughDaemon(t *testing.T) {
	rep := selftest.Report{Results: []selftest.Result{
		{Name: "printer", Status: selftest.Pass, Detail: "test slip printed"},
		{Name: "clock", Status: selftest.Fail, Detail: "clock not synchronised", Hint: "check NTP"},
	}, Failed: 1}
	cfg := socketDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/selftest" || r.Header.Get("Content-Type") != "application/json" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(rep)
	}))
	var out, errb bytes.Buffer
	if code := run([]string{"--config", cfg, "selftest"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errb.String())
	}
	for _, want := range []string{"printer  PASS    test slip printed", "clock    FAIL    clock not synchronised", "hint: check NTP", "1 of 2 checks failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table %q lacks %q", out.String(), want)
		}
	}
	if !strings.Contains(errb.String(), "1 of 2 checks failed") {
		t.Errorf("stderr %q", errb.String())
	}
	out.Reset()
	if code := run([]string{"--config", cfg, "selftest", "--json"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d", code)
	}
	var back selftest.Report
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back.Failed != 1 || back.Results[1].Hint != "check NTP" {
		t.Fatalf("JSON %q: %v", out.String(), err)
	}
	rep.Results, rep.Failed = rep.Results[:1], 0
	out.Reset()
	if code := run([]string{"--config", cfg, "selftest"}, &out, &errb); code != 0 {
		t.Fatalf("all passed, exit %d", code)
	}
}

// Without a daemon, `guichet selftest` tests in-process: simulated
// devices pass, the link fails saying guichetd is not running.
func TestSelfTestInProcess(t *testing.T) {
	cfg := selfTestConfig(t, "127.0.0.1:"+strconv.Itoa(brokertest.FreePort(t)))
	var out, errb bytes.Buffer
	if code := run([]string{"--config", cfg, "selftest", "--json"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errb.String())
	}
	var rep selftest.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]selftest.Status{}
	for _, r := range rep.Results {
		got[r.Name] = r.Status
	}
	if got["display"] != selftest.Pass || got["gpio"] != selftest.Pass || got["platform"] != selftest.Fail {
		t.Fatalf("statuses %v", got)
	}
	card := filepath.Join(t.TempDir(), "card.png")
	if code := run([]string{"selftest", "--card", card}, &out, &errb); code != 0 {
		t.Fatalf("--card: exit %d: %s", code, errb.String())
	}
	if b, err := os.ReadFile(card); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("card: %v", err)
	}
}
