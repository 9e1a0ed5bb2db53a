package qemutest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A whole system: Guest.Root names an ext4 image of a Debian root (made
// with debootstrap, see internal/pkgtest). The initramfs loads the modules,
// mounts the image, drops an agent and its systemd unit into it and hands
// over to the image's /sbin/init, so that systemd is PID 1 as on the
// appliance. The agent runs the scripts that Machine.Exec puts in a 9p
// share and leaves their output and exit status there.

// RootModules are the modules (modprobe names) a Root guest loads before
// systemd starts: the virtio disk with ext4 and the 9p shares. Pass them
// to ModuleFiles and the result to Guest.Files and Guest.Modules.
var RootModules = []string{"virtio_pci", "virtio_blk", "crc32c_generic", "ext4", "9pnet_virtio", "9p"}

// Share is a host directory the guest mounts with
// `mount -t 9p -o trans=virtio,version=9p2000.L TAG DIR`. The guest reads
// and writes it as root: files it creates are root's on the host.
type Share struct {
	Tag  string // at most 31 bytes
	Host string
}

// agentTag is the share of the agent's scripts.
const agentTag = "qemutest-agent"

// ErrNoAgent is Exec on a guest that has no Root, hence no agent.
var ErrNoAgent = errors.New("qemutest: the guest has no agent (Guest.Root is empty)")

func shareArgs(id string, sh Share) ([]string, error) {
	if sh.Tag == "" || len(sh.Tag) > 31 || strings.ContainsAny(sh.Tag, ", ") {
		return nil, fmt.Errorf("qemutest: share tag %q: want 1 to 31 bytes without commas or spaces", sh.Tag)
	}
	if strings.Contains(sh.Host, ",") {
		return nil, fmt.Errorf("qemutest: share %q: qemu cannot take a comma in a path", sh.Host)
	}
	if fi, err := os.Stat(sh.Host); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("qemutest: share %s: not a directory (%v)", sh.Host, err)
	}
	return []string{
		"-fsdev", "local,id=" + id + ",path=" + sh.Host + ",security_model=none",
		"-device", "virtio-9p-pci,fsdev=" + id + ",mount_tag=" + sh.Tag,
	}, nil
}

// rootArgs adds the root disk and the agent's share to args and returns
// the agent's directory.
func rootArgs(dir string, g Guest, args []string) (string, []string, error) {
	if strings.Contains(g.Root, ",") {
		return "", nil, fmt.Errorf("qemutest: root %q: qemu cannot take a comma in a file name", g.Root)
	}
	if _, err := os.Stat(g.Root); err != nil {
		return "", nil, fmt.Errorf("qemutest: root image: %w", err)
	}
	agent := filepath.Join(dir, "agent")
	if err := os.Mkdir(agent, 0o700); err != nil {
		return "", nil, fmt.Errorf("qemutest: %w", err)
	}
	// snapshot=on: qemu keeps the guest's writes in a temporary qcow2
	// overlay and drops it at exit, so the image is the same at every
	// boot. cache=unsafe: a test's root need not survive a host crash.
	args = append(args, "-drive", "file="+g.Root+",if=virtio,format=raw,snapshot=on,cache=unsafe")
	sa, err := shareArgs("agent", Share{Tag: agentTag, Host: agent})
	if err != nil {
		return "", nil, err
	}
	return agent, append(args, sa...), nil
}

// rootInit is the initramfs's /init for a Root guest. The modules' insmod
// lines fill in %s. The devtmpfs moves into the new root, where systemd
// finds it mounted.
const rootInit = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
%s
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mkdir -p /newroot
# /sbin/init is usually an absolute symbolic link, to be read in the new root.
if ! mount -t ext4 -o rw /dev/vda /newroot || ! { [ -L /newroot/sbin/init ] || [ -x /newroot/sbin/init ]; }; then
	echo "qemutest: cannot mount the root on /dev/vda, or it has no /sbin/init"
	poweroff -f
fi
mkdir -p /newroot/usr/local/sbin /newroot/etc/systemd/system/sysinit.target.wants
cp /qemutest-agent /newroot/usr/local/sbin/qemutest-agent
cp /qemutest-agent.service /newroot/etc/systemd/system/qemutest-agent.service
ln -sf ../qemutest-agent.service /newroot/etc/systemd/system/sysinit.target.wants/qemutest-agent.service
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
`

// agentScript runs the scripts N.sh (N from 0) that appear in the share,
// in order, and leaves their output in N.out and their exit status in
// N.rc, written last. It prints StartMarker once it can take scripts.
const agentScript = `#!/bin/sh
d=/run/qemutest-agent
mkdir -p $d
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 ` + agentTag + ` $d || exit 1
echo ` + StartMarker + ` > /dev/console
n=0
while :; do
	if [ -e $d/$n.sh ]; then
		sh $d/$n.sh > $d/$n.out 2>&1 < /dev/null
		echo $? > $d/$n.tmp && mv $d/$n.tmp $d/$n.rc
		n=$((n+1))
	else
		sleep 0.05
	fi
done
`

// agentUnit starts the agent early, so that a host's script can watch the
// rest of the boot (systemctl is-system-running --wait).
const agentUnit = `[Unit]
Description=qemutest agent: runs the test host's scripts
DefaultDependencies=no
After=systemd-remount-fs.service
Conflicts=shutdown.target
Before=shutdown.target

[Service]
ExecStart=/usr/local/sbin/qemutest-agent
`

func writeRootInitramfs(name string, g Guest) error {
	var ins strings.Builder
	for _, m := range g.Modules {
		fmt.Fprintf(&ins, "insmod %s || echo \"insmod %s failed\"\n", m, m)
	}
	extra := []Entry{
		{Name: "qemutest-agent", Mode: 0o755, Data: []byte(agentScript)},
		{Name: "qemutest-agent.service", Mode: 0o644, Data: []byte(agentUnit)},
		{Name: "newroot", Mode: fs.ModeDir | 0o755},
	}
	return writeInitramfsWith(name, g, []byte(fmt.Sprintf(rootInit, ins.String())), extra)
}

// Exec runs script with sh as root in a Root guest, through its agent,
// and returns its output (standard output and error together) and exit
// status. Scripts run one at a time, in the order given; Exec waits for
// the guest's agent to start. err reports a script that could not be run
// or whose end was not seen: the guest ended, or ctx did.
func (m *Machine) Exec(ctx context.Context, script string) (out string, status int, err error) {
	if m.agent == "" {
		return "", 0, ErrNoAgent
	}
	n := strconv.Itoa(m.execs)
	m.execs++
	tmp := filepath.Join(m.agent, n+".tmp-host")
	if err := os.WriteFile(tmp, []byte(script), 0o644); err != nil {
		return "", 0, fmt.Errorf("qemutest: exec: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(m.agent, n+".sh")); err != nil {
		return "", 0, fmt.Errorf("qemutest: exec: %w", err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(filepath.Join(m.agent, n+".rc")); err == nil {
			status, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				return "", 0, fmt.Errorf("qemutest: exec %s: exit status %q: %w", n, b, err)
			}
			o, err := os.ReadFile(filepath.Join(m.agent, n+".out"))
			if err != nil {
				return "", 0, fmt.Errorf("qemutest: exec %s: %w", n, err)
			}
			return string(o), status, nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return m.partial(n), 0, fmt.Errorf("qemutest: exec %s: %w", n, ctx.Err())
		case <-m.ctx.Done():
			return m.partial(n), 0, fmt.Errorf("qemutest: exec %s: guest timed out: %w", n, m.ctx.Err())
		case <-m.done:
			return m.partial(n), 0, fmt.Errorf("qemutest: exec %s: the guest ended first", n)
		}
	}
}

// partial is what script n wrote so far.
func (m *Machine) partial(n string) string {
	b, _ := os.ReadFile(filepath.Join(m.agent, n+".out"))
	return string(b)
}

// Poweroff shuts a Root guest down through systemd (systemctl poweroff),
// printing ExitMarker with status 0 first, and waits for it as Wait does.
func (m *Machine) Poweroff(ctx context.Context) (Result, error) {
	_, _, err := m.Exec(ctx, "echo '"+ExitMarker+" 0' > /dev/console; systemctl --no-block poweroff")
	select {
	case <-m.done:
		// The shutdown may stop the agent before it says the script ended.
	default:
		if err != nil {
			m.Kill()
			res, _ := m.Wait()
			return res, err
		}
	}
	return m.Wait()
}
