package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	displaysim "github.com/guichet/guichet/device/display/sim"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/tamper"
	"github.com/guichet/guichet/ui"
)

// guichet tamper status and clear against the daemon's local API on a
// Unix socket: only a technician's PIN, read from standard input, clears.
func TestTamperCLI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(nil)
	ob, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Identity{Tenant: "shop-1", Device: "till-1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	people := &staff.Staff{Store: ob, Iterations: 1000, LockAfter: 3}
	for _, p := range []struct {
		id   string
		role staff.Role
	}{{"chen.jing", staff.Supervisor}, {"zhao.min", staff.Technician}} {
		if err := people.Add(ctx, p.id, p.id, p.role, "482913"); err != nil {
			t.Fatal(err)
		}
	}
	al, err := audit.Open(ctx, ob, nil)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := tamper.Open(ctx, tamper.Config{Store: ob, Audit: al, Staff: people})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Changed(ctx, true); err != nil {
		t.Fatal(err)
	}
	srv := &ui.Server{Screen: displaysim.New(), Scans: ui.NewScans(), SyncNow: func() {}, Log: slog.New(slog.DiscardHandler),
		Status: func() any { return nil }, Staff: people, Tamper: sw}
	sock := filepath.Join(dir, "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.ServeLocal(sctx, l) }()
	defer func() { cancel(); <-done }()
	cfg := filepath.Join(dir, "guichetd.yaml")
	os.WriteFile(cfg, []byte("device: {id: till-1, tenant: shop-1}\nstate_dir: "+dir+"\nbroker: {urls: [\"tcp://127.0.0.1:1\"]}\n"+
		"platform_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nhardware: sim\nui: {socket: \""+sock+"\"}\n"), 0o600)
	cli := func(in string, args ...string) (int, string) {
		t.Helper()
		var out, errb bytes.Buffer
		stdin = strings.NewReader(in)
		code := run(append([]string{"--config", cfg}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	for _, s := range []struct {
		in     string
		args   []string
		code   int
		out    string
		locked bool
	}{
		{"", []string{"tamper", "status"}, 0, "LOCKED after the tamper switch opened", true},
		{"", []string{"tamper", "status", "--json"}, 0, `"locked":true`, true},
		{"", []string{"tamper", "clear"}, 2, "--technician", true},
		{"", []string{"tamper", "clear", "--technician", "zhao.min"}, 1, "read the PIN", true},
		{"482913\n", []string{"tamper", "clear", "--technician", "chen.jing"}, 1, "a technician's PIN is needed", true},
		{"000000\n", []string{"tamper", "clear", "--technician", "zhao.min"}, 1, "wrong id or PIN", true},
		{"", []string{"tamper", "open"}, 2, "unknown verb", true},
		{"482913\n", []string{"tamper", "clear", "--technician", "zhao.min"}, 0, "cleared:", false},
		{"", []string{"tamper", "status"}, 0, "state:    not locked", false},
		{"482913\n", []string{"tamper", "clear", "--technician", "zhao.min"}, 1, "not locked", false},
	} {
		if code, out := cli(s.in, s.args...); code != s.code || !strings.Contains(out, s.out) {
			t.Errorf("%v: exit %d %q, want %d and %q", s.args, code, out, s.code, s.out)
		}
		if got := sw.State().Locked; got != s.locked {
			t.Fatalf("%v: locked %t, want %t", s.args, got, s.locked)
		}
	}
}
