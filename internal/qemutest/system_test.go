package qemutest

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestShareArgs(t *testing.T) {
	dir := t.TempDir()
	args, err := shareArgs("s0", Share{Tag: "io", Host: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(args, " "); !strings.Contains(got, "path="+dir+",") || !strings.Contains(got, "mount_tag=io") {
		t.Errorf("share args %q", got)
	}
	for _, bad := range []Share{
		{Tag: "", Host: dir},
		{Tag: strings.Repeat("x", 32), Host: dir},
		{Tag: "a,b", Host: dir},
		{Tag: "io", Host: dir + "/missing"},
		{Tag: "io", Host: "/tmp/a,b"},
	} {
		if _, err := shareArgs("s0", bad); err == nil {
			t.Errorf("share %+v accepted", bad)
		}
	}
}

func TestRootInitramfs(t *testing.T) {
	name := t.TempDir() + "/initrd"
	if err := writeRootInitramfs(name, Guest{Modules: []string{"/modules/ext4.ko"}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	entries := readCPIO(t, b)
	init := string(entries["init"].Data)
	for _, want := range []string{"insmod /modules/ext4.ko", "exec switch_root /newroot /sbin/init", "mount --move /dev /newroot/dev"} {
		if !strings.Contains(init, want) {
			t.Errorf("init lacks %q:\n%s", want, init)
		}
	}
	if !strings.Contains(string(entries["qemutest-agent"].Data), agentTag) || !strings.Contains(string(entries["qemutest-agent.service"].Data), "ExecStart=/usr/local/sbin/qemutest-agent") {
		t.Error("agent or its unit missing from the initramfs")
	}
}

func TestExecNoAgent(t *testing.T) {
	var m Machine
	if _, _, err := m.Exec(context.Background(), "true"); !errors.Is(err, ErrNoAgent) {
		t.Errorf("Exec without Root: %v", err)
	}
}
