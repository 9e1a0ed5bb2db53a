package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/benchfig"
	"github.com/guichet/guichet/internal/brokertest"
)

// idleWindow is how long the idle daemon is measured: the target is
// stated over a minute.
const idleWindow = time.Minute

// BenchmarkGuichetdIdle measures guichetd at rest on the demo's simulated
// counter (a camera reading codes in the demo's frames at 2 frames a
// second, the simulated card reader, display, GPIO, printer and drawer, the
// e-ID counter waiting for an official), connected to a local mosquitto
// and the reference platform, with nobody at the till: its resident memory
// at the end of a minute and the CPU it used over that minute, as a share
// of one core. Targets: under 60 MB and under 1 %. The anchor is
// mosquitto, measured over the same minute on the same machine.
func BenchmarkGuichetdIdle(b *testing.B) {
	frames := filepath.Join(brokertest.Root(b), "deploy/demo/frames")
	// The devices of deploy/demo/guichetd.yaml.tmpl as demo.sh fills it.
	benchIdle(b, "guichetd", fmt.Sprintf(`devices:
  code_readers: [{driver: camera, options: {camera: folder, camera_options: {path: "%[1]s", fps: 2}, dedupe: 30s}}]
  card_reader: {driver: sim}
  face_camera: {driver: folder, options: {path: "%[1]s", fps: 8}}
  printer: {driver: sim}
  drawer: {via: printer}
eid: {counter: true, subject_key_file: "{{DIR}}/device/subject.key", challenge: turn_left, frame_rate: 8}
`, frames))
}

// BenchmarkGuichetdIdleScannerOnly is the same till without the camera
// and the e-ID counter (a hand-held scanner instead, simulated): the
// difference is what the camera's decoding and the face models cost at
// rest.
func BenchmarkGuichetdIdleScannerOnly(b *testing.B) {
	benchIdle(b, "guichetd_scanner", `devices:
  code_readers: [{driver: sim, options: {codes: ["134567890123456789"]}}]
  card_reader: {driver: sim}
  printer: {driver: sim}
  drawer: {via: printer}
`)
}

// benchIdle measures guichetd idle with devices (YAML; {{DIR}} is the
// test's directory), reporting figures under name, and mosquitto's
// beside them.
func benchIdle(b *testing.B, name, devices string) {
	dir := b.TempDir()
	broker := brokertest.StartMosquitto(b)
	uiPort := brokertest.FreePort(b)
	platConf := filepath.Join(dir, "platform.yaml")
	devConf := filepath.Join(dir, "guichetd.yaml")
	write(b, platConf, fmt.Sprintf(`instance: p1
store: %[1]s/platform/platform.db
key_file: %[1]s/platform/platform.key
broker: {urls: ["%[2]s"]}
admin: "127.0.0.1:%[3]d"
`, dir, broker.URL(), brokertest.FreePort(b)))
	if err := os.MkdirAll(filepath.Join(dir, "device"), 0o700); err != nil {
		b.Fatal(err)
	}
	write(b, filepath.Join(dir, "device", "subject.key"), strings.Repeat("k", 32))
	write(b, devConf, fmt.Sprintf(`device: {id: till-1, tenant: shop-1, site: shop-001}
state_dir: %[1]s/device
broker: {urls: ["%[2]s"]}
platform_key_file: %[1]s/platform/platform.key.pub
hardware: sim
`, dir, broker.URL())+strings.ReplaceAll(devices, "{{DIR}}", dir)+fmt.Sprintf(`ui: {listen: "127.0.0.1:%[1]d"}
checkout: {currency: CNY, wait_online: 3s}
`, uiPort))
	run := func(prog string, args ...string) string {
		var out, errb bytes.Buffer
		cmd := exec.Command(filepath.Join(binDir, prog), args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s %v: %v\n%s", prog, args, err, errb.String())
		}
		return out.String()
	}
	start := func(prog string, args ...string) *exec.Cmd {
		log, err := os.Create(filepath.Join(dir, prog+".log"))
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(binDir, prog), args...)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { stop(cmd); log.Close() })
		return cmd
	}
	run("guichet-platform", "--config", platConf, "pubkey")
	key := strings.TrimSpace(run("guichet", "--config", devConf, "keygen"))
	run("guichet-platform", "--config", platConf, "enrol", "--tenant", "shop-1", "--device", "till-1", "--key", key)
	start("guichet-platform", "--config", platConf, "run")
	daemon := start("guichetd", "--config", devConf)
	brokertest.WaitPort(b, uiPort, logText(""))
	// Start-up (opening the store, the first frames, the link's first
	// exchange) is not idling.
	time.Sleep(10 * time.Second)

	b.ResetTimer()
	procs := map[string]int{name: daemon.Process.Pid, "mosquitto": broker.PID()}
	before := map[string]time.Duration{}
	for name, pid := range procs {
		before[name] = cpuTime(b, pid)
	}
	t0 := time.Now()
	time.Sleep(idleWindow)
	wall := time.Since(t0)
	for _, p := range []string{name, "mosquitto"} {
		pid := procs[p]
		used := cpuTime(b, pid) - before[p]
		benchfig.Report(b, p+"_idle_cpu_pct", 100*used.Seconds()/wall.Seconds(), "%")
		benchfig.Report(b, p+"_idle_rss_mb", float64(rssKB(b, pid))/1024, "MB")
	}
	if err := daemon.Process.Signal(syscall.Signal(0)); err != nil {
		b.Fatalf("guichetd died while idle: %v", err)
	}
}

// cpuTime is the user and system time process pid has used, from
// /proc/PID/stat (fields 14 and 15, in clock ticks; 100 a second on
// Linux).
func cpuTime(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// f[0] is field 3 (state), so utime and stime are f[11] and f[12].
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// rssKB is process pid's resident set (VmRSS) in KiB.
func rssKB(b *testing.B, pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				b.Fatalf("/proc/%d/status: VmRSS %q", pid, v)
			}
			return n
		}
	}
	b.Fatalf("/proc/%d/status has no VmRSS", pid)
	return 0
}
