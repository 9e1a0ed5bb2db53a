package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/selftest"
	"github.com/guichet/guichet/provision"
	"github.com/guichet/guichet/provision/identity"
)

// Self-test tuning: how long a code reader is watched for frames and the
// test card, the least frame rate of a camera, the disk space kept free
// for the store, and how long the platform has to answer a ping.
const (
	codeWindow   = 2 * time.Second
	minFPS       = 2
	diskReserve  = 256 << 20
	pingTimeout  = 8 * time.Second
	testCardSeen = 5 * time.Second
)

// clockSynced reads whether the clock is synchronised; tests replace it,
// as the machine they run on may not be.
var clockSynced = selftest.KernelClock

// selfTester runs the self-test of a running daemon over its own devices,
// store and link: GET /api/selftest.
type selfTester struct {
	cfg    *config.Daemon
	devs   *Devices
	key    identity.Key
	creds  linkCreds
	pinger *selftest.Pinger
	// taps follow the codes of devs.CodeReaders, in their order; the
	// daemon's reading loops feed them.
	taps []*selftest.Tap
	mu   sync.Mutex // one self-test at a time: they drive the same devices
}

// newSelfTester returns the self-test of a daemon, with a tap for each of
// its code readers.
func newSelfTester(cfg *config.Daemon, devs *Devices, key identity.Key, creds linkCreds, pinger *selftest.Pinger) *selfTester {
	t := &selfTester{cfg: cfg, devs: devs, key: key, creds: creds, pinger: pinger}
	for range devs.CodeReaders {
		t.taps = append(t.taps, &selftest.Tap{})
	}
	return t
}

// errBusy: a self-test is running already.
var errBusy = errors.New("a self-test is running already")

// run runs the self-test once.
func (t *selfTester) run(ctx context.Context) (selftest.Report, error) {
	if !t.mu.TryLock() {
		return selftest.Report{}, errBusy
	}
	defer t.mu.Unlock()
	checks := deviceChecks(t.cfg, t.devs, nil, t.taps)
	checks = append(checks, hostChecks(t.cfg, t.key, nil)...)
	checks = append(checks, linkChecks(t.cfg, t.creds, nil, t.pinger)...)
	return selftest.Run(ctx, checks), nil
}

// SelfTest runs the self-test in this process, for `guichet selftest`
// when guichetd is not running: it opens the devices, the identity and
// the enrolment itself, and closes them again. The ping through the
// outbox needs the daemon's link and fails, saying so.
func SelfTest(ctx context.Context, cfg *config.Daemon) selftest.Report {
	devs, outs := openAll(ctx, cfg)
	defer devs.Close()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	taps := make([]*selftest.Tap, len(devs.CodeReaders))
	for i, r := range devs.CodeReaders {
		taps[i] = &selftest.Tap{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := r.ReadCode(ctx)
				if err != nil {
					return
				}
				taps[i].Add(c)
			}
		}()
	}
	checks := deviceChecks(cfg, devs, outs, taps)
	key, err := identity.Open(ctx, cfg.Identity)
	if err == nil {
		defer key.Close()
	}
	checks = append(checks, hostChecks(cfg, key, err)...)
	var creds linkCreds
	if err == nil {
		var dev *provision.Device
		if cfg.Enrolled() {
			dev, err = provision.OpenDevice(cfg, key)
		}
		if err == nil {
			creds, err = linkAuth(cfg, dev)
		}
	}
	checks = append(checks, linkChecks(cfg, creds, err, nil)...)
	return selftest.Run(ctx, checks)
}

// deviceChecks are the checks of the devices cfg names: each opened one
// exercised, each that failed to open failed with the reason (outs).
func deviceChecks(cfg *config.Daemon, devs *Devices, outs []Outcome, taps []*selftest.Tap) []selftest.Check {
	var checks []selftest.Check
	failed := map[string]error{}
	for _, o := range outs {
		if o.Err != nil {
			failed[o.Field] = o.Err
			checks = append(checks, selftest.Check{Name: o.Field, Run: func(context.Context) selftest.Result {
				return selftest.Failed(o.Err, "the device did not open: check "+o.Field+" in the configuration (guichetd --check) and the device's cable")
			}})
		}
	}
	opened := 0
	for i := range cfg.Devices.CodeReaders {
		if failed[fmt.Sprintf("devices.code_readers[%d]", i)] != nil || opened >= len(devs.CodeReaders) {
			continue
		}
		r := devs.CodeReaders[opened]
		name := fmt.Sprintf("code reader %d", i)
		what := fmt.Sprintf("code reader %d (%s)", i, cfg.Devices.CodeReaders[i].Driver)
		var frames func() int
		if f, ok := cameraFrames(r); ok {
			name, what = fmt.Sprintf("camera %d", i), fmt.Sprintf("camera %d", i)
			frames = f
		}
		checks = append(checks, selftest.CodeReader(name, what, taps[opened], frames, minFPS, codeWindow, testCardSeen))
		opened++
	}
	if devs.CardReader != nil {
		checks = append(checks, selftest.CardReader(devs.CardReader))
	}
	if devs.Display != nil {
		checks = append(checks, selftest.Display(devs.Display))
	}
	if devs.Lines != nil {
		checks = append(checks, selftest.Lines(devs.Lines))
	}
	if devs.Printer != nil {
		checks = append(checks, selftest.Printer(devs.Printer, cfg.Device.ID))
	}
	if devs.Drawer != nil {
		checks = append(checks, selftest.Drawer(devs.Drawer, cfg.Devices.Drawer.Via))
	}
	return checks
}

// hostChecks are the checks of the box itself: clock, disk, store and
// TPM. keyErr is why the identity did not open, if it did not.
func hostChecks(cfg *config.Daemon, key identity.Key, keyErr error) []selftest.Check {
	checks := []selftest.Check{
		selftest.Clock(clockSynced),
		selftest.Disk(cfg.StateDir, diskReserve),
		selftest.Store(filepath.Join(cfg.StateDir, "outbox.db")),
	}
	if keyErr != nil {
		checks = append(checks, failedCheck("tpm", keyErr, "the identity key does not open: check identity in the configuration and /dev/tpmrm0"))
	} else {
		checks = append(checks, selftest.Identity(key, key.Kind() == identity.KindTPM, cfg.Hardware != "sim"))
	}
	return checks
}

// linkChecks are the checks of the way to the platform: the broker takes
// the device's certificate, and the platform answers a ping (only through
// a running daemon's pinger).
func linkChecks(cfg *config.Daemon, creds linkCreds, credErr error, pinger *selftest.Pinger) []selftest.Check {
	if credErr != nil {
		return []selftest.Check{failedCheck("broker", credErr, "the device's credentials do not load: check the enrolment (guichet provision) or broker in the configuration")}
	}
	id := strings.Join([]string{cfg.Device.Tenant, cfg.Device.ID, "selftest"}, ".")
	checks := []selftest.Check{selftest.Broker(creds.brokers, creds.tls, creds.username, creds.password, id)}
	if pinger == nil {
		checks = append(checks, failedCheck("platform", errors.New("guichetd is not running: the ping goes through its link"),
			"start guichetd (systemctl start guichetd) and run guichet selftest again"))
	} else {
		checks = append(checks, selftest.Platform(pinger, pingTimeout))
	}
	return checks
}

// failedCheck is a check that fails at once with err.
func failedCheck(name string, err error, hint string) selftest.Check {
	return selftest.Check{Name: name, Run: func(context.Context) selftest.Result { return selftest.Failed(err, hint) }}
}
