package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `guichet status` gives one line per peripheral; a degraded one stands
// out with what to check.
func TestStatusShowsDevices(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"device":"till-1","queue":{"depth":0},"link":{"connected":true},"devices":[
			{"name":"devices.code_readers[0]","driver":"serial","state":"ok","errors":0,"decoded":3},
			{"name":"devices.printer","driver":"escpos","state":"degraded","hint":"out of paper","errors":1,"problem":"paper"}]}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "guichetd.yaml")
	os.WriteFile(cfg, []byte("device: {id: till-1, tenant: shop-1}\nstate_dir: "+dir+"\nbroker: {urls: [\"tcp://127.0.0.1:1\"]}\n"+
		"platform_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nhardware: sim\nui: {listen: \""+strings.TrimPrefix(srv.URL, "http://")+"\"}\n"), 0o600)
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
