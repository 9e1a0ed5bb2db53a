package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// `guichet status` shows the downlink's applied versions and refusals by
// reason, from the daemon's status.
func TestStatusShowsDownlink(t *testing.T) {
	cfg := socketDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"device":"till-1","queue":{"depth":0,"last_seq":4},"link":{"connected":true,"broker":"tcp://b:1883",
			"last_sync":"2026-12-05T07:00:00Z","refused":3,"refusals":{"old":1,"forged":2},"versions":{"config":4,"cmd.sync":2}}}`))
	}))
	var out, errb bytes.Buffer
	if code := run([]string{"--config", cfg, "status"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"downlink versions cmd.sync=2 config=4\n", "downlink refused forged=2 old=1\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status %q lacks %q", out.String(), want)
		}
	}
}
