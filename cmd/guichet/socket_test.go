package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// socketDaemon serves h on a Unix socket, as the daemon serves the
// command's API, and returns a configuration that points guichet at it.
func socketDaemon(t *testing.T, h http.Handler) (cfgPath string) {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	cfg := "device: {id: till-1, tenant: shop-1}\nstate_dir: " + dir + "\nbroker: {urls: [\"tcp://127.0.0.1:1\"]}\n" +
		"platform_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nhardware: sim\nui: {socket: \"" + sock + "\"}\n"
	cfgPath = filepath.Join(dir, "guichetd.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}
