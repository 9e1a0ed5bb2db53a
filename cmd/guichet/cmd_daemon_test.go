package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// statusDaemon serves /api/status with body, and returns a configuration
// that points guichet at it.
func statusDaemon(t *testing.T, body string) string {
	return socketDaemon(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/status" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(body))
	}))
}

func TestStatusIdentity(t *testing.T) {
	cases := []struct{ identity, want string }{
		{`"tpm"`, "identity tpm (the key cannot leave the TPM)\n"},
		{`"file"`, "identity file (the weaker kind: no TPM, the key is in a file that a copy of the disk copies)\n"},
		{`"hsm\n"`, "identity \"hsm\\n\" (unknown kind)\n"},
		{`""`, "identity unknown"},
	}
	for _, c := range cases {
		cfg := statusDaemon(t, `{"device":"till-1","identity":`+c.identity+`,"queue":{"depth":3},"link":{"connected":true,"broker":"tcp://b:1"}}`)
		var out, errb bytes.Buffer
		if code := run([]string{"--config", cfg, "status"}, &out, &errb); code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		if !strings.Contains(out.String(), c.want) || !strings.HasPrefix(out.String(), "device till-1\n") {
			t.Errorf("identity %s: output %q lacks %q", c.identity, out.String(), c.want)
		}
		out.Reset()
		if code := run([]string{"--config", cfg, "status", "--json"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"identity":`+c.identity) {
			t.Errorf("--json: %q", out.String())
		}
	}
}
