// Package qemutest runs a test binary inside Debian's own kernel booted
// under qemu-system-x86_64, for drivers that need a real kernel interface
// (the GPIO character device with the gpio-sim module) that the build
// machine's kernel does not offer, and for what only a machine can show:
// a power cut (Start, then Machine.Kill) under a store on a virtio disk.
//
// The guest is a few megabytes of initramfs written at test time: a static
// busybox as /init shell, the kernel modules to load, and the binary. The
// init script prints StartMarker, runs the binary, prints ExitMarker and
// the exit status on the serial console, and powers off. Boot is kept short:
// no udev, no network, no firmware option ROMs, and PVH spares the kernel
// its self-decompression.
package qemutest

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Markers the guest's init prints on the console.
const (
	StartMarker = "GUICHET-QEMU-START"
	ExitMarker  = "GUICHET-QEMU-EXIT"
)

// Packages are the Debian packages a guest needs on the host.
// Disks need e2fsprogs (MakeExt4), PVH needs xz-utils.
const Packages = "qemu-system-x86 linux-image-amd64 busybox-static e2fsprogs xz-utils"

// maxConsole bounds the console output kept, should a guest go wild.
const maxConsole = 8 << 20

// File is a host file copied into the guest.
type File struct {
	Guest string // absolute path in the guest
	Host  string // path on the host
}

// Guest describes one boot.
type Guest struct {
	// Kernel is the vmlinuz to boot.
	Kernel string
	// Busybox is a statically linked busybox; "" for /bin/busybox.
	Busybox string
	// Files are copied into the guest; Modules (guest paths among them,
	// in dependency order) are loaded with insmod before Command runs.
	Files   []File
	Modules []string
	// Command is the shell command line the guest runs as root, with
	// /proc, /sys, /dev (devtmpfs) and /sys/kernel/config mounted.
	Command string
	// Timeout bounds the whole boot; 3 minutes if zero.
	Timeout time.Duration
	// Console, if set, receives the console as it comes (t.Log writer).
	Console io.Writer
	// Disks are raw disk images attached as virtio disks, the first as
	// /dev/vda; MakeExt4 makes one. The guest needs the virtio_pci and
	// virtio_blk modules (see ModuleFiles).
	Disks []string

	// Root, if set, is a raw ext4 image of a whole Debian system (see
	// system.go): the guest mounts it as / and starts its /sbin/init
	// (systemd) as PID 1 instead of running Command, and Machine.Exec
	// runs scripts in it. Root is /dev/vda, Disks follow it. The image
	// is never written: the guest's writes go to a temporary overlay.
	// The guest needs RootModules.
	Root string
	// Shares are host directories the guest can mount with 9p.
	Shares []Share
	// Memory is the guest's memory in MiB (512 if zero), CPUs its
	// processors (1 if zero).
	Memory, CPUs int
	// Append is added to the kernel's command line.
	Append string
}

// Result is what a boot produced.
type Result struct {
	// ExitStatus is the guest command's exit status.
	ExitStatus int
	// Console is the whole serial console output.
	Console string
	// Boot is the time from starting qemu to StartMarker; Total to the end.
	Boot, Total time.Duration
	// Killed says Machine.Kill ended the guest.
	Killed bool
}

// Need returns an error naming the Debian packages to install if qemu or a
// static busybox is missing.
func Need() error {
	var missing []string
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		missing = append(missing, "qemu-system-x86")
	}
	if err := isStatic("/bin/busybox"); err != nil {
		missing = append(missing, "busybox-static")
	}
	if len(missing) > 0 {
		return fmt.Errorf("qemutest: missing %s: apt-get install %s", strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	return nil
}

func isStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", p)
		}
	}
	return nil
}

// Kernels lists the kernel versions installed under /boot, newest first,
// that have a module tree in /lib/modules.
func Kernels() []string {
	paths, _ := filepath.Glob("/boot/vmlinuz-*")
	var vers []string
	for _, p := range paths {
		v := strings.TrimPrefix(filepath.Base(p), "vmlinuz-")
		if fi, err := os.Stat(filepath.Join("/lib/modules", v)); err == nil && fi.IsDir() {
			vers = append(vers, v)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(vers)))
	return vers
}

// Run boots g and returns once the guest has powered off, ctx has ended or
// the timeout has passed. A guest that never prints ExitMarker is an error;
// a non-zero ExitStatus is not (the caller decides).
func Run(ctx context.Context, g Guest) (Result, error) {
	m, err := Start(ctx, g)
	if err != nil {
		return Result{}, err
	}
	return m.Wait()
}

// Machine is a guest that Start booted. Its owner reads Lines, may Kill
// it, and must call Wait, which releases everything it holds.
type Machine struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	ctx    context.Context
	dir    string
	g      Guest
	start  time.Time
	stderr bytes.Buffer
	lines  chan string
	killed atomic.Bool

	// agent is the directory Exec shares with a Root guest's agent.
	agent string
	execs int

	// Written by the console reader, read once done is closed.
	done    chan struct{}
	res     Result
	exitSet bool
}

// Start boots g and returns as soon as qemu runs. The guest's console comes
// line by line on Lines.
func Start(ctx context.Context, g Guest) (*Machine, error) {
	if err := Need(); err != nil {
		return nil, err
	}
	if g.Timeout == 0 {
		g.Timeout = 3 * time.Minute
	}
	dir, err := os.MkdirTemp("", "qemutest")
	if err != nil {
		return nil, fmt.Errorf("qemutest: %w", err)
	}
	initrd := filepath.Join(dir, "initrd.cpio")
	write := writeInitramfs
	if g.Root != "" {
		write = writeRootInitramfs
	}
	if err := write(initrd, g); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	mem, cpus := 512, 1
	if g.Memory > 0 {
		mem = g.Memory
	}
	if g.CPUs > 0 {
		cpus = g.CPUs
	}

	ctx, cancel := context.WithTimeout(ctx, g.Timeout)
	args := []string{
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-serial", "stdio", "-monitor", "none",
		"-machine", "q35", "-cpu", "max", "-smp", strconv.Itoa(cpus), "-m", strconv.Itoa(mem),
		"-kernel", g.Kernel, "-initrd", initrd,
		// quiet and no udev: the kernel prints little and init is a
		// shell script; panic=-1 turns a panic into a reboot, which
		// -no-reboot turns into qemu exiting.
		"-append", strings.TrimSpace("console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init nokaslr mitigations=off tsc=reliable " + g.Append),
	}
	var agent string
	if g.Root != "" {
		var err error
		if agent, args, err = rootArgs(dir, g, args); err != nil {
			cancel()
			os.RemoveAll(dir)
			return nil, err
		}
	}
	for _, d := range g.Disks {
		if strings.Contains(d, ",") {
			cancel()
			os.RemoveAll(dir)
			return nil, fmt.Errorf("qemutest: disk %q: qemu cannot take a comma in a file name", d)
		}
		// cache=writeback: qemu writes through the host's page cache and
		// turns the guest's flushes into fdatasync. A killed qemu thus
		// keeps what the guest wrote out and loses what the guest held
		// in its own page cache, as a machine losing power would.
		args = append(args, "-drive", "file="+d+",if=virtio,format=raw,cache=writeback")
	}
	for i, sh := range g.Shares {
		a, err := shareArgs(fmt.Sprintf("share%d", i), sh)
		if err != nil {
			cancel()
			os.RemoveAll(dir)
			return nil, err
		}
		args = append(args, a...)
	}
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.Stdin = nil
	cmd.WaitDelay = 5 * time.Second
	m := &Machine{cmd: cmd, cancel: cancel, ctx: ctx, dir: dir, g: g, agent: agent, lines: make(chan string, 256), done: make(chan struct{})}
	cmd.Stderr = &m.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("qemutest: %w", err)
	}
	m.start = time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("qemutest: start qemu: %w", err)
	}
	go m.read(out)
	return m, nil
}

// read copies the console to Lines until qemu's output ends.
func (m *Machine) read(out io.Reader) {
	defer close(m.done)
	defer close(m.lines)
	var console bytes.Buffer
	defer func() { m.res.Console = console.String() }()
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if m.g.Console != nil {
			fmt.Fprintln(m.g.Console, line)
		}
		if console.Len() < maxConsole {
			console.WriteString(line)
			console.WriteByte('\n')
		}
		// The firmware's terminal escapes may precede a marker on its line.
		switch {
		case strings.HasSuffix(line, StartMarker) && m.res.Boot == 0:
			m.res.Boot = time.Since(m.start)
		case strings.Contains(line, ExitMarker+" "):
			_, after, _ := strings.Cut(line, ExitMarker+" ")
			if n, err := strconv.Atoi(strings.TrimSpace(after)); err == nil {
				m.res.ExitStatus, m.exitSet = n, true
			}
		}
		if m.agent != "" {
			// A Root guest's owner talks to it through Exec and
			// need not read Lines: a line it does not take now is
			// dropped, not waited for.
			select {
			case m.lines <- line:
			default:
			}
			continue
		}
		m.lines <- line
	}
}

// Lines delivers the console's lines as they come, and is closed when qemu
// has gone. A reader that stops reading stalls the guest's console until
// Wait; a Root guest's lines that find the channel full are dropped
// instead (Guest.Console and Result.Console still have them).
func (m *Machine) Lines() <-chan string { return m.lines }

// Kill cuts the guest's power: qemu gets SIGKILL, and the guest loses what
// it had not written to its disks.
func (m *Machine) Kill() error {
	m.killed.Store(true)
	if err := m.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("qemutest: kill qemu: %w", err)
	}
	return nil
}

// Wait waits for qemu to end, discarding the lines nobody read, and
// returns what the boot produced. A killed guest has Killed set and is no
// error for want of ExitMarker.
func (m *Machine) Wait() (Result, error) {
	defer os.RemoveAll(m.dir)
	defer m.cancel()
	for range m.lines {
	}
	<-m.done
	werr := m.cmd.Wait()
	res := m.res
	res.Total = time.Since(m.start)
	res.Killed = m.killed.Load()
	switch {
	case res.Killed:
		return res, nil
	case m.ctx.Err() != nil && !m.exitSet:
		return res, fmt.Errorf("qemutest: guest did not finish within %v: %w", m.g.Timeout, m.ctx.Err())
	case res.Boot == 0:
		return res, fmt.Errorf("qemutest: guest never printed %s (qemu: %v %s)", StartMarker, werr, tail(m.stderr.String()))
	case !m.exitSet:
		return res, fmt.Errorf("qemutest: guest never printed %s (qemu: %v %s)", ExitMarker, werr, tail(m.stderr.String()))
	}
	return res, nil
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 500 {
		s = "..." + s[len(s)-500:]
	}
	return s
}

// initScript is the guest's /init. The command's exit status is printed
// before poweroff so that a guest test failure is told from a crash.
const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
%s
mount -t configfs configfs /sys/kernel/config 2>/dev/null
echo ` + StartMarker + `
cd /tmp
(
%s
)
echo "` + ExitMarker + ` $?"
poweroff -f
`

func writeInitramfs(name string, g Guest) error {
	var ins strings.Builder
	for _, m := range g.Modules {
		fmt.Fprintf(&ins, "insmod %s || echo \"insmod %s failed\"\n", m, m)
	}
	return writeInitramfsWith(name, g, []byte(fmt.Sprintf(initScript, ins.String(), g.Command)), nil)
}

// writeInitramfsWith writes an initramfs of busybox, g.Files, extra and
// the init script.
func writeInitramfsWith(name string, g Guest, init []byte, extra []Entry) error {
	bb := g.Busybox
	if bb == "" {
		bb = "/bin/busybox"
	}
	if err := isStatic(bb); err != nil {
		return fmt.Errorf("qemutest: busybox: %w (apt-get install busybox-static)", err)
	}
	entries := []Entry{
		{Name: "bin", Mode: fs.ModeDir | 0o755},
		{Name: "dev", Mode: fs.ModeDir | 0o755},
		{Name: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
		{Name: "proc", Mode: fs.ModeDir | 0o755},
		{Name: "sys", Mode: fs.ModeDir | 0o755},
		{Name: "tmp", Mode: fs.ModeDir | 0o1777},
		{Name: "init", Mode: 0o755, Data: init},
	}
	entries = append(entries, extra...)
	data, err := os.ReadFile(bb)
	if err != nil {
		return fmt.Errorf("qemutest: %w", err)
	}
	entries = append(entries, Entry{Name: "bin/busybox", Mode: 0o755, Data: data})
	dirs := map[string]bool{"bin": true, "dev": true, "proc": true, "sys": true, "tmp": true}
	for _, e := range extra {
		if e.Mode.IsDir() {
			dirs[e.Name] = true
		}
	}
	for _, f := range g.Files {
		data, err := os.ReadFile(f.Host)
		if err != nil {
			return fmt.Errorf("qemutest: %w", err)
		}
		rel := strings.TrimPrefix(path.Clean(f.Guest), "/")
		var parents []string
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			parents = append(parents, d)
			dirs[d] = true
		}
		for i := len(parents) - 1; i >= 0; i-- {
			entries = append(entries, Entry{Name: parents[i], Mode: fs.ModeDir | 0o755})
		}
		entries = append(entries, Entry{Name: rel, Mode: 0o755, Data: data})
	}
	out, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("qemutest: %w", err)
	}
	bw := bufio.NewWriter(out)
	err = WriteCPIO(bw, entries)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("qemutest: write initramfs: %w", err)
	}
	return nil
}

// ErrNoModule reports a kernel module that is in neither place looked at.
var ErrNoModule = errors.New("qemutest: kernel module not found")

// FindModule returns the path of module name (without .ko) for kernel
// version kver: in Debian's tree, else in the extra directories (where
// deploy/make/qemu.mk builds the modules Debian does not ship).
func FindModule(kver, name string, extra ...string) (string, error) {
	var found string
	root := filepath.Join("/lib/modules", kver, "kernel")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == name+".ko" {
			found = p
			return fs.SkipAll
		}
		return nil
	})
	if found != "" {
		return found, nil
	}
	for _, dir := range extra {
		p := filepath.Join(dir, name+".ko")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s for %s (looked in %s and %s)", ErrNoModule, name, kver, root, strings.Join(extra, ", "))
}
