package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/checkout"
	displaysim "github.com/guichet/guichet/device/display/sim"
	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/ui"
)

// The command against the daemon's real local API on a Unix socket:
// enrolling people, taking a payment as the local user, and a refund that
// needs a supervisor's PIN.
func TestCLIOverSocket(t *testing.T) {
	dir := t.TempDir()
	_, key, _ := ed25519.GenerateKey(nil)
	ob, err := outbox.Open(filepath.Join(dir, "outbox.db"), outbox.Identity{Tenant: "shop-1", Device: "till-1", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	co := &checkout.Service{Store: ob, Currency: "CNY", WaitOnline: 20 * time.Millisecond, Log: slog.New(slog.DiscardHandler),
		OfflinePerTransaction: checkout.MaxAmount, OfflineTotal: checkout.MaxAmount}
	srv := &ui.Server{Checkout: co, Till: co, Currency: "CNY", Screen: displaysim.New(), Scans: ui.NewScans(), SyncNow: func() {},
		Status: func() any { return map[string]string{"device": "till-1"} }, Log: slog.New(slog.DiscardHandler),
		Staff: &staff.Staff{Store: ob, Iterations: 1000, LockAfter: 3}}
	sock := filepath.Join(dir, "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeLocal(ctx, l) }()
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
	steps := []struct {
		in   string
		args []string
		code int
		out  string
	}{
		{"482913\n", []string{"cashier", "add", "--id", "li.wei", "--name", "李伟"}, 0, `"added":"li.wei"`},
		{"739201\n", []string{"cashier", "add", "--id", "chen.jing", "--name", "陈静", "--role", "supervisor"}, 0, `"added":"chen.jing"`},
		{"111111\n", []string{"cashier", "add", "--id", "admin", "--name", "Admin"}, 1, "shared"},
		{"123\n", []string{"cashier", "add", "--id", "wang", "--name", "Wang"}, 1, "6 to 64"},
		{"", []string{"cashier", "add", "--id", "wang", "--name", "Wang"}, 1, "read the PIN"},
		{"", []string{"cashier", "add", "--id", "wang"}, 2, "--name"},
		{"", []string{"cashier", "list"}, 0, "li.wei               cashier    active   李伟"},
		{"000000\n", []string{"refund", "--id", "nope", "--amount", "1.00", "--supervisor", "li.wei"}, 1, "supervisor"},
		{"592014\n", []string{"cashier", "reset", "--id", "li.wei"}, 0, `"reset":"li.wei"`},
		{"", []string{"cashier", "remove", "--id", "nobody"}, 1, "no such account"},
	}
	for _, s := range steps {
		if code, out := cli(s.in, s.args...); code != s.code || !strings.Contains(out, s.out) {
			t.Errorf("%v: exit %d %q, want %d and %q", s.args, code, out, s.code, s.out)
		}
	}
	// A payment over the socket is the local user's.
	code, out := cli("", "pay", "--amount", "5.00", "--code", "134567890123456780")
	var p checkout.Payment
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil {
		t.Fatalf("pay: %d %s", code, out)
	}
	me, _ := user.Current()
	if p.Operator != "local:"+me.Username {
		t.Errorf("operator %q, want local:%s", p.Operator, me.Username)
	}
	if code, out := cli("000000\n", "void", "--id", p.ID, "--supervisor", "chen.jing"); code != 1 || !strings.Contains(out, "wrong id or PIN") {
		t.Errorf("void with a wrong PIN: %d %s", code, out)
	}
	if code, out := cli("", "cashier", "list", "--json"); code != 0 || !strings.Contains(out, `"failures":1`) {
		t.Errorf("the wrong supervisor PIN is not counted: %s", out)
	}
	if code, out := cli("739201\n", "void", "--id", p.ID, "--supervisor", "chen.jing"); code != 0 || !strings.Contains(out, `"voided"`) {
		t.Errorf("void: %d %s", code, out)
	}
	got, _ := co.Get(context.Background(), p.ID)
	if got.VoidedBy == nil || got.VoidedBy.Supervisor != "chen.jing" || got.VoidedBy.Cashier != "local:"+me.Username {
		t.Errorf("void's operator: %+v", got.VoidedBy)
	}
}
