package powercut

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/fault"
	"github.com/guichet/guichet/internal/qemutest"
)

// guest is what every boot shares: the kernel, the modules that give it a
// virtio disk with ext4, and the guest program.
type guest struct {
	kernel  string
	files   []qemutest.File
	modules []string
}

func newGuest(t *testing.T) guest {
	t.Helper()
	if err := qemutest.Need(); err != nil {
		t.Fatal(err)
	}
	kvers := qemutest.Kernels()
	if len(kvers) == 0 {
		t.Fatalf("no kernel in /boot with modules: apt-get install %s", qemutest.Packages)
	}
	files, modules, err := qemutest.ModuleFiles(kvers[0], "virtio_pci", "virtio_blk", "crc32c_generic", "ext4")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "guestpay")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	build := exec.Command(gobin, "build", "-trimpath", "-o", bin, "./guestpay")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-buildvcs=false")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build guestpay: %v\n%s", err, out)
	}
	files = append(files, qemutest.File{Guest: "/guestpay", Host: bin})
	// Booting the kernel at its PVH entry saves a self-decompression
	// per boot, most of the boot time under software emulation.
	kernel, err := qemutest.PVH("/boot/vmlinuz-"+kvers[0], t.TempDir())
	if err != nil {
		t.Logf("booting the compressed kernel: %v", err)
		kernel = "/boot/vmlinuz-" + kvers[0]
	}
	return guest{kernel: kernel, files: files, modules: modules}
}

// mountData waits for the virtio disk, mounts it on /data and shows in the
// console whether ext4 had to replay its journal (it does after a cut).
const mountData = `i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mkdir -p /data && mount -t ext4 /dev/vda /data || exit 3
dmesg | grep -i 'EXT4-fs (vda)' | grep -iv 'mounted filesystem'
`

// debugConsole copies every guest console to stderr when
// POWERCUT_CONSOLE is set, to see a guest that misbehaves.
var debugConsole = func() io.Writer {
	if os.Getenv("POWERCUT_CONSOLE") != "" {
		return os.Stderr
	}
	return nil
}()

// boot is what one boot of guestpay said.
type boot struct {
	store   string   // "existing" or "new"
	sync    string   // the store's PRAGMA synchronous
	have    []string // payments table
	records []string // payment.auth records in the outbox
	stored  []string // payments reported stored
	res     qemutest.Result
}

// start boots guestpay with args on disk, without waiting.
func (g guest) start(t *testing.T, disk, command string) *qemutest.Machine {
	t.Helper()
	m, err := qemutest.Start(context.Background(), qemutest.Guest{
		Kernel:  g.kernel,
		Files:   g.files,
		Modules: g.modules,
		Disks:   []string{disk},
		Command: mountData + command,
		Timeout: 3 * time.Minute,
		Console: debugConsole,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// paymentID is checkout's payment id: time in milliseconds, random part.
var paymentID = regexp.MustCompile(`^pay-[0-9a-f]{13}-[0-9a-f]{12}$`)

// parse reads one console line into b; it reports "listed" lines.
func (b *boot) parse(line string) bool {
	word, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	switch word {
	case "store":
		b.store = arg
	case "synchronous":
		b.sync = arg
	case "have":
		b.have = append(b.have, arg)
	case "record":
		b.records = append(b.records, arg)
	case "stored":
		// The cut may end the console in the middle of a line: only
		// a whole payment id was reported.
		if paymentID.MatchString(arg) {
			b.stored = append(b.stored, arg)
		}
	case "listed":
		return true
	}
	return false
}

// check boots guestpay to list the store and powers off cleanly.
func (g guest) check(t *testing.T, disk string) boot {
	t.Helper()
	m := g.start(t, disk, "/guestpay -db /data/outbox.db; s=$?; umount /data; exit $s")
	var b boot
	for line := range m.Lines() {
		b.parse(line)
	}
	res, err := m.Wait()
	b.res = res
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("check boot: %v, status %d\n%s", err, res.ExitStatus, res.Console)
	}
	return b
}

// payAndCut boots guestpay taking payments with synchronous sync, and
// kills qemu at a random moment once payments are going through: at least
// minStored reported, then between 0 and spread more. Every "stored" line
// qemu passed on counts as reported, also those read after the kill: the
// guest sent them out before it lost power.
func (g guest) payAndCut(t *testing.T, rng *rand.Rand, disk, sync string) boot {
	t.Helper()
	const (
		minStored = 20
		spread    = 2 * time.Second
	)
	m := g.start(t, disk, "/guestpay -db /data/outbox.db -pay -sync "+sync)
	var (
		b      boot
		listed bool
		cut    <-chan time.Time
		killed bool
	)
	lines := m.Lines()
	for lines != nil {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				break
			}
			if b.parse(line) {
				listed = true
			}
			if listed && cut == nil && !killed && len(b.stored) >= minStored {
				cut = time.After(time.Duration(rng.Int64N(int64(spread))))
			}
		case <-cut:
			cut, killed = nil, true
			if err := m.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := m.Wait()
	b.res = res
	if err != nil || !res.Killed {
		t.Fatalf("pay boot ended before the cut (%v, status %d); stored %d\n%s", err, res.ExitStatus, len(b.stored), res.Console)
	}
	return b
}

// sameSet reports the keys in one list and not the other.
func sameSet(a, b []string) (onlyA, onlyB []string) {
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, k := range l {
			m[k] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	for k := range ma {
		if !mb[k] {
			onlyA = append(onlyA, k)
		}
	}
	for k := range mb {
		if !ma[k] {
			onlyB = append(onlyB, k)
		}
	}
	sort.Strings(onlyA)
	sort.Strings(onlyB)
	return onlyA, onlyB
}

// TestFaultPowerCut cuts the guest's power while payments are taken, boots
// again, and tallies by payment id what the guest reported stored against
// the payment.auth records the store holds after the last cut:
//
//	fault power_cut runs=N reported_stored=S applied=A duplicates=D lost=L
//
// The control row opens the same store with synchronous=NORMAL and must
// lose payments: it proves the cut is a real power loss that the test can
// see, not a process kill the host's page cache hides.
func TestFaultPowerCut(t *testing.T) {
	g := newGuest(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("GUICHET_FAULT_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("seed %d (set GUICHET_FAULT_SEED to replay)", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	for _, c := range []struct {
		scenario string
		sync     string // guestpay's -sync
		level    string // the PRAGMA synchronous it must show
		cuts     int
		mustLose bool
	}{
		{scenario: "power_cut", sync: "full", level: "2", cuts: 5},
		{scenario: "power_cut_control_sync_normal", sync: "normal", level: "1", cuts: 1, mustLose: true},
	} {
		t.Run(c.sync, func(t *testing.T) {
			start := time.Now()
			disk := filepath.Join(t.TempDir(), "disk.img")
			if err := qemutest.MakeExt4(disk, 64); err != nil {
				t.Fatal(err)
			}
			var reported []string
			var boots time.Duration
			for i := 0; i < c.cuts; i++ {
				b := g.payAndCut(t, rng, disk, c.sync)
				boots += b.res.Boot
				if b.sync != c.level {
					t.Fatalf("cut %d: the store ran with synchronous %q, want %s", i+1, b.sync, c.level)
				}
				if want := map[bool]string{true: "new", false: "existing"}[i == 0]; b.store != want {
					t.Fatalf("boot %d found the store %q, want %s", i+1, b.store, want)
				}
				// The listing at the start of this boot is the check of
				// the cut before it.
				if onlyH, onlyR := sameSet(b.have, b.records); len(onlyH)+len(onlyR) > 0 {
					t.Errorf("boot %d: payments without their record %v, records without their payment %v", i+1, onlyH, onlyR)
				}
				if s := fault.Tally(c.scenario, i, reported, b.records); !c.mustLose && !s.OK() {
					t.Errorf("boot %d after %d cuts: %s: lost %v, twice %v", i+1, i, s, s.LostKeys, s.DuplicateKeys)
				}
				reported = append(reported, b.stored...)
				t.Logf("cut %d: boot %v, %d payments reported stored in %v, store held %d at boot",
					i+1, b.res.Boot.Round(time.Millisecond), len(b.stored), (b.res.Total - b.res.Boot).Round(time.Millisecond), len(b.records))
			}
			b := g.check(t, disk)
			boots += b.res.Boot
			if b.store != "existing" {
				t.Fatalf("the check boot found no store (%q)", b.store)
			}
			if onlyH, onlyR := sameSet(b.have, b.records); len(onlyH)+len(onlyR) > 0 {
				t.Errorf("payments without their record %v, records without their payment %v", onlyH, onlyR)
			}
			s := fault.Tally(c.scenario, c.cuts, reported, b.records)
			s.Print(os.Stdout) // on a line of its own under go test -v
			t.Logf("%s: %d boots in %v, of which %v booting", c.scenario, c.cuts+1, time.Since(start).Round(time.Second), boots.Round(time.Second))
			if s.ReportedStored == 0 {
				t.Fatal("no payment was reported stored: the test cut nothing")
			}
			switch {
			case c.mustLose && s.Lost == 0:
				t.Errorf("%s: a store without a full sync lost nothing: the cut is not a power loss", s)
			case c.mustLose:
				t.Logf("%s: the control lost %d payments, as it must", s, s.Lost)
			case !s.OK():
				t.Errorf("%s: lost %v, applied twice %v", s, s.LostKeys, s.DuplicateKeys)
			}
			if s.Duplicates != 0 {
				t.Errorf("%s: records twice: %v", s, s.DuplicateKeys)
			}
		})
	}
}

func TestParse(t *testing.T) {
	var b boot
	for _, l := range []string{
		"store existing", "synchronous 2", "have pay-001a2451cf4a7-284b5f3cf0c1", "record pay-001a2451cf4a7-284b5f3cf0c1",
		"stored pay-001a2451cf4a7-284b5f3cf0c1\r", "stored pay-001a2451cf4a7-284b5f3c", "s", "", "stored", "[ 1.0] EXT4-fs (vda): recovery complete",
		"stored pay-001a2451cf4a7-284b5f3cf0c1 extra",
	} {
		if b.parse(l) {
			t.Errorf("%q taken for the end of the listing", l)
		}
	}
	if !b.parse("listed payments=1 records=1") {
		t.Error("end of the listing missed")
	}
	if b.store != "existing" || b.sync != "2" || len(b.have) != 1 || len(b.records) != 1 {
		t.Errorf("parsed %+v", b)
	}
	if len(b.stored) != 1 || b.stored[0] != "pay-001a2451cf4a7-284b5f3cf0c1" {
		t.Errorf("stored %q: a cut line or junk counted", b.stored)
	}
}
