package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// `guichet status` gives one line per peripheral; a degraded one stands
// out with what to check.
func TestStatusShowsDevices(t *testing.T) {
	// The daemon's status over its Unix socket, as the CLI reaches it.
	cfg := socketDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"device":"till-1","queue":{"depth":0},"link":{"connected":true},"devices":[
			{"name":"devices.code_readers[0]","driver":"serial","state":"ok","errors":0,"decoded":3},
			{"name":"devices.printer","driver":"escpos","state":"degraded","hint":"out of paper","errors":1,"problem":"paper"}]}`))
	}))
	var out, errb bytes.Buffer
	if code := run([]string{"--config", cfg, "status"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"device devices.code_readers[0] (serial) ok\n", "DEGRADED: device devices.printer (escpos) degraded: out of paper\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status %q lacks %q", out.String(), want)
		}
	}
}
