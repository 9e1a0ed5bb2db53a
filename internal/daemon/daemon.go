// Package daemon wires the appliance together: it opens the devices named
// by the configuration, the durable store, the link to the platform, the
// flows and the UI, runs them until its context ends, and stops them in the
// order that loses nothing (UI first, store last).
package daemon

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"time"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/checkout/slip"
	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/device/cardreader"
	"github.com/guichet/guichet/device/codereader"
	"github.com/guichet/guichet/device/display"
	displaysim "github.com/guichet/guichet/device/display/sim"
	"github.com/guichet/guichet/device/gpio"
	"github.com/guichet/guichet/eid/audit"
	"github.com/guichet/guichet/eid/credential"
	"github.com/guichet/guichet/firmware-bridge/dfu"
	"github.com/guichet/guichet/internal/health"
	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/internal/logring"
	"github.com/guichet/guichet/internal/sdnotify"
	"github.com/guichet/guichet/internal/selftest"
	"github.com/guichet/guichet/provision"
	"github.com/guichet/guichet/provision/identity"
	"github.com/guichet/guichet/staff"
	"github.com/guichet/guichet/sync/envelope"
	"github.com/guichet/guichet/sync/link"
	"github.com/guichet/guichet/sync/mqttconn"
	"github.com/guichet/guichet/sync/outbox"
	"github.com/guichet/guichet/tamper"
	"github.com/guichet/guichet/ui"
)

// Status is what `guichet status --json` prints.
type Status struct {
	Device   string `json:"device"`
	Tenant   string `json:"tenant"`
	Hardware string `json:"hardware"`
	// Identity says where the identity key (TLS, enrolment) lives: "tpm",
	// or "file", the weaker kind.
	Identity identity.Kind `json:"identity"`
	Queue    outbox.Stats  `json:"queue"`
	Link     link.Status   `json:"link"`
	// Devices are the peripherals, ok or degraded with a hint.
	Devices []DeviceState `json:"devices"`
	// Tamper is the tamper switch's state: locked after an opening
	// until a technician clears it.
	Tamper tamper.State `json:"tamper"`
}

// LogRecords is how many of its last log records the daemon keeps for
// the technician's page.
const LogRecords = 500

// Run runs the appliance until ctx ends.
func Run(ctx context.Context, cfg *config.Daemon, log *slog.Logger) error {
	started := time.Now()
	// The technician's page shows the last records, redacted.
	// guichetd installs the ring in its default logger, for the
	// components that log through slog.Default(); else it starts here.
	logs := logring.Of(log.Handler())
	if logs == nil {
		logs = logring.New(LogRecords)
		log = slog.New(logs.Handler(log.Handler()))
	}
	devs, err := OpenDevices(ctx, cfg)
	if err != nil {
		return err
	}
	defer devs.Close()
	board := health.NewBoard()
	for _, o := range devs.Loaded {
		board.Add(o.Field, o.Driver)
	}
	sup := newSupervisor(board, log)
	var printerWatch *watchedPrinter
	if devs.Printer != nil {
		printerWatch = sup.watchPrinter("devices.printer", devs.Printer)
	}
	// Only a reader that can be asked for its state is watched (sam).
	var cardWatch *watchedCardReader
	if _, ok := devs.CardReader.(statusReader); ok {
		cr, driver := cfg.Devices.CardReader, driverOf(devs.Loaded, "devices.card_reader")
		cardWatch = sup.watchCardReader("devices.card_reader", devs.CardReader, func(ctx context.Context) (cardreader.Reader, error) {
			return cardreader.Drivers.Open(ctx, driver, &cr.Options)
		})
		devs.CardReader = cardWatch
	}
	// Bind the UI before opening the store, so a port in use stops the
	// daemon before it changes anything.
	ln, err := net.Listen("tcp", cfg.UI.Listen)
	if err != nil {
		return fmt.Errorf("ui.listen: %w", err)
	}
	defer ln.Close()
	sock, err := listenSocket(cfg.UI.Socket, cfg.UI.SocketGroup)
	if err != nil {
		return err
	}
	defer sock.Close()

	key, err := keys.LoadOrCreate(filepath.Join(cfg.StateDir, "device.key"))
	if err != nil {
		return err
	}
	// The identity key authenticates the device (enrolment, TLS); the
	// Ed25519 key above still signs the records.
	id, err := identity.Open(ctx, cfg.Identity)
	if err != nil {
		return err
	}
	defer id.Close()
	if id.Kind().Weaker() {
		log.Warn("identity key in a file, the weaker kind: a copy of the disk copies it", "key_file", cfg.Identity.KeyFile)
	}
	// An enrolled box is named by its enrolment, made for this key,
	// before the store or anything else uses the name.
	var enrolled *provision.Device
	if cfg.Enrolled() {
		if enrolled, err = provision.OpenDevice(cfg, id); err != nil {
			return err
		}
	}
	conn, err := linkAuth(cfg, enrolled)
	if err != nil {
		return err
	}
	store, err := outbox.Open(filepath.Join(cfg.StateDir, "outbox.db"), outbox.Identity{Tenant: cfg.Device.Tenant, Device: cfg.Device.ID, Key: key})
	if err != nil {
		return err
	}
	defer store.Close()
	// Disk kept for the platform's acks when the disk fills (docs/operations.md).
	if err := store.KeepReserve(filepath.Join(cfg.StateDir, "outbox.db"), storeReserve); err != nil {
		log.Warn("disk full at start: new payments are refused until acks free space", "err", err)
	}

	screen := displaysim.New()
	show := func(s display.Screen) {
		screen.Show(ctx, s)
		if _, mirror := devs.Display.(*displaysim.Display); !mirror {
			if err := devs.Display.Show(ctx, s); err != nil {
				log.Warn("display", "err", err)
			}
		}
	}
	var bg sync.WaitGroup
	defer bg.Wait()
	pulse := func(line string, d time.Duration) {
		bg.Add(1)
		go func() { defer bg.Done(); devs.Lines.Pulse(ctx, line, d) }()
	}
	// The audit log is one per store: the e-ID counter and the tamper
	// switch append to the same chain.
	al, err := audit.Open(ctx, store, nil)
	if err != nil {
		return err
	}
	people := &staff.Staff{Store: store}
	rawLines := devs.Lines
	tampered, err := openTamper(ctx, cfg, rawLines, store, al, people, pulse, log)
	if err != nil {
		return err
	}
	// From here on, no pulse (a decline's, the self-test's) leaves the red
	// LED off while the tamper lock holds.
	devs.Lines = keepRed(rawLines, tampered)
	signalLines := func(p checkout.Payment) { signalPayment(p, pulse) }
	// printAfter prints a receipt by itself after an approval, where
	// checkout.receipt.auto_print asks it; set below, before any payment.
	var printAfter func(checkout.Payment)
	online := &linkOnline{}
	co := &checkout.Service{Store: store, Currency: cfg.Checkout.Currency, WaitOnline: cfg.Checkout.WaitOnline.D(), Log: log,
		Retention:             cfg.Checkout.Retention.D(),
		OfflinePerTransaction: cfg.Checkout.OfflineLimits.PerTransaction, OfflineTotal: cfg.Checkout.OfflineLimits.Total,
		Link: online, Site: cfg.Device.Site, Drawer: devs.Drawer, Lock: tampered.Check,
		QRTTL: cfg.Checkout.QRTTL.D(), QRMerchant: checkout.Merchant(cfg.Checkout.Merchant),
		OnChange: func(p checkout.Payment) {
			show(display.Screen{Lines: []string{checkout.FormatMinor(p.Amount, p.Currency) + " " + p.Currency}, Status: p.Status})
			signalLines(p)
			if printAfter != nil && slip.FirstApproval(p) {
				printAfter(p)
			}
		},
		OnQRChange: func(o checkout.QROrder) {
			if scr, ok := QRScreen(o); ok {
				show(scr)
			}
			// A paid QR order sounds as a paid card payment does.
			if o.Status == checkout.QRPaid {
				signalLines(checkout.Payment{Status: checkout.StatusApproved})
			}
		}}
	// The e-ID counter and the QR verifier, where configured.
	var dk *eidDesk
	if cfg.EID.Counter {
		var closeDesk func()
		if dk, closeDesk, err = openDesk(ctx, cfg, store, al, tampered.Check, devs.CardReader, log); err != nil {
			return err
		}
		defer closeDesk()
	}
	var tr *credential.Trust
	if cfg.EID.RootKey != "" {
		if tr, err = openTrust(cfg, log); err != nil {
			return err
		}
	}
	// Each flow is handed the results to its own records and the commands
	// it takes; a command no flow takes is refused by the link.
	router := link.NewRouter()
	pinger := &selftest.Pinger{Outbox: store}
	router.HandleResults(pinger.OnResult, selftest.PingType)
	router.HandleResults(co.OnResult, checkout.ResultTypes...)
	router.HandleResults(co.OnQRResult, checkout.QRResultTypes...)
	router.HandleCommands(co.ApplyCommand, checkout.Commands...)
	if dk != nil {
		dk.route(router)
	}
	if tr != nil {
		router.HandleCommands(func(_ context.Context, cmd *envelope.Command) error { return tr.ApplyLists(cmd.Args) }, credential.CommandLists)
		router.HandleCommands(func(_ context.Context, cmd *envelope.Command) error { return tr.ApplyConfig(cmd.Args) }, credential.CommandConfig)
	}
	lk, err := link.New(link.Config{
		Tenant: cfg.Device.Tenant, Device: cfg.Device.ID, Brokers: conn.brokers, TLS: conn.tls,
		Username: conn.username, Password: conn.password, PlatformKey: conn.platformKey,
		Window: cfg.Sync.Window, AckTimeout: cfg.Sync.AckTimeout.D(),
		MinBackoff: cfg.Sync.MinBackoff.D(), MaxBackoff: cfg.Sync.MaxBackoff.D(),
		Logger: log, Router: router, Degraded: board.Degraded,
	}, store)
	if err != nil {
		return err
	}
	online.lk = lk
	board.Notify(lk.StatusChanged)
	reporter, err := health.New(health.Config{Tenant: cfg.Device.Tenant, Device: cfg.Device.ID, Key: key,
		Interval: cfg.Sync.HealthInterval.D(), StateDir: cfg.StateDir, Started: started, Logger: log},
		store, lk, board, lk.Publish)
	if err != nil {
		return err
	}
	pinger.SyncNow = lk.SyncNow
	tester := newSelfTester(cfg, devs, id, conn, pinger)
	// The self-test gets the printer itself (it asks an escpos printer
	// for its paper); the flows get it watched.
	if printerWatch != nil {
		devs.Printer = printerWatch
	}
	// The certificate is renewed over the link's own session.
	var renewer *provision.Renewer
	if enrolled != nil {
		if renewer, err = enrolled.Renewer(lk.Publish, log); err != nil {
			return err
		}
		router.HandleRaw(renewer.Topic(), renewer.Deliver)
	}
	scans := ui.NewScans()
	srv := &ui.Server{Checkout: co, Currency: cfg.Checkout.Currency, Till: co, Cash: co, Finder: co, Screen: screen,
		QR: co, SyncNow: lk.SyncNow, SelfTest: tester.run, Scans: scans, Languages: cfg.UI.Languages, Log: log,
		Status: func() any {
			return Status{Device: cfg.Device.ID, Tenant: cfg.Device.Tenant, Hardware: cfg.Hardware, Identity: id.Kind(), Queue: store.Stats(), Link: lk.Status(),
				Devices: DeviceStates(board.Devices()), Tamper: tampered.State()}
		},
		Staff: people, Tamper: tampered, Audit: al, IdleSignOut: cfg.UI.IdleSignOut.D(), Hosts: listenHosts(cfg.UI.Listen)}
	srv.Logs, srv.Queue = logs, store
	// The technician's page enrols the box as `guichet provision` does
	// (used after a restart), and updates the peripherals listed in
	// devices.firmware with the releases in state_dir/firmware.
	srv.Provision = &ui.Provisioner{Key: id, RecordKey: key.Public().(ed25519.PublicKey), StateDir: cfg.StateDir, Device: cfg.Device.ID}
	if len(cfg.Devices.Firmware) > 0 {
		fw := &ui.Firmware{Dir: filepath.Join(cfg.StateDir, "firmware"), Options: dfu.Options{Logger: log}}
		for _, p := range cfg.Devices.Firmware {
			fw.Peripherals = append(fw.Peripherals, ui.FirmwarePeripheral{Name: p.Name, Port: p.Port, Baud: p.Baud})
		}
		srv.Firmware = fw
		defer fw.Close()
	}

	if devs.Printer != nil {
		rc := cfg.Checkout.Receipt
		slips := &slip.Slips{Service: co, Printer: devs.Printer,
			Head: slip.Letterhead{Name: cmp.Or(rc.Name, cfg.Checkout.Merchant.Name), Address: rc.Address, Lang: rc.Lang}}
		srv.Receipts = slips
		if rc.AutoPrint {
			printAfter = func(p checkout.Payment) {
				bg.Add(1)
				go func() {
					defer bg.Done()
					if err := slips.Print(ctx, p.ID); err != nil {
						log.Warn("receipt not printed", "payment", p.ID, "err", err)
					}
				}()
			}
		}
	}
	if dk != nil {
		dk.serve(srv)
		if srv.TechnicianToken, err = ui.LoadTechnicianToken(cfg.StateDir); err != nil {
			return err
		}
	}
	if tr != nil {
		srv.Verifier = tr
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if dk != nil {
		wg.Add(1)
		go func() { defer wg.Done(); dk.Run(ctx) }()
	}
	errc := make(chan error, 3+len(devs.CodeReaders))
	wg.Add(4)
	go func() { defer wg.Done(); errc <- srv.Serve(ctx, ln) }()
	go func() { defer wg.Done(); errc <- srv.ServeLocal(ctx, sock) }()
	go func() { defer wg.Done(); lk.Run(ctx) }()
	// Uncertain payments (customer still confirming) are queried and, past
	// their time, reversed, also after a restart.
	go func() { defer wg.Done(); co.Run(ctx) }()
	if renewer != nil {
		wg.Add(1)
		go func() { defer wg.Done(); renewer.Run(ctx) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); reporter.Run(ctx) }()
	if printerWatch != nil {
		wg.Add(1)
		go func() { defer wg.Done(); printerWatch.watch(ctx) }()
	}
	if cardWatch != nil {
		wg.Add(1)
		go func() { defer wg.Done(); cardWatch.watch(ctx) }()
	}
	// The tamper switch, where the GPIO driver can watch one (package
	// tamper).
	if w, ok := rawLines.(tamper.Watcher); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := tampered.Watch(ctx, w, gpio.LineTamper); err != nil && ctx.Err() == nil {
				log.Warn("tamper watch stopped", "err", err)
			}
		}()
	}
	// Each code reader is read, and reopened when it fails, by the
	// supervisor, which owns it from here (devs.Close leaves it); the
	// self-test's tap sees every code too.
	devs.readersSupervised = true
	for i, r := range devs.CodeReaders {
		cr := cfg.Devices.CodeReaders[i]
		open := func(ctx context.Context) (codereader.Reader, error) {
			return codereader.Drivers.Open(ctx, cr.Driver, &cr.Options)
		}
		tap := tester.taps[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sup.readCodes(ctx, fmt.Sprintf("devices.code_readers[%d]", i), r, open, func(c codereader.Code) {
				scans.Add(c)
				tap.Add(c)
			})
		}()
	}
	log.Info("guichetd running", "device", cfg.Device.ID, "hardware", cfg.Hardware, "ui", "http://"+ln.Addr().String(), "socket", cfg.UI.Socket)
	// Under systemd (Type=notify): ready now that the UI and the socket
	// listen and every part runs; the watchdog is pinged while the UI
	// answers.
	notify := sdnotify.FromEnv()
	if _, err := notify.Notify(sdnotify.Ready); err != nil {
		log.Warn("readiness not notified", "err", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		every := sdnotify.WatchdogInterval()
		notify.RunWatchdog(ctx, every, uiAlive(ctx, ln.Addr(), every, log))
	}()
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	notify.Notify(sdnotify.Stopping)
	cancel()
	wg.Wait()
	log.Info("guichetd stopped", "queue_depth", store.Stats().Depth)
	return runErr
}

// linkOnline tells the checkout whether the platform can be reached now,
// for its offline decisions.
type linkOnline struct{ lk *link.Link }

// Online reports whether the link is connected.
func (o *linkOnline) Online() bool { return o.lk != nil && o.lk.Status().Connected }

// linkCreds is how the link reaches the platform and checks what it sends.
type linkCreds struct {
	brokers            []string
	tls                *tls.Config
	username, password string
	platformKey        ed25519.PublicKey
}

// linkAuth takes an enrolled box's brokers, certificate and platform key
// from its enrolment, and an older box's from its configuration.
func linkAuth(cfg *config.Daemon, dev *provision.Device) (linkCreds, error) {
	if dev != nil {
		return linkCreds{brokers: dev.Enrolment.Brokers, tls: dev.Credentials.TLSConfig(), platformKey: dev.Enrolment.PlatformKey}, nil
	}
	pk, err := platformKey(cfg)
	if err != nil {
		return linkCreds{}, err
	}
	tc, password, err := mqttconn.Auth(&cfg.Broker)
	if err != nil {
		return linkCreds{}, err
	}
	return linkCreds{brokers: cfg.Broker.URLs, tls: tc, username: cfg.Broker.Username, password: password, platformKey: pk}, nil
}

func platformKey(cfg *config.Daemon) ([]byte, error) {
	if cfg.PlatformKey != "" {
		k, err := keys.ParsePublic(cfg.PlatformKey)
		if err != nil {
			return nil, fmt.Errorf("platform_key: %w", err)
		}
		return k, nil
	}
	k, err := keys.LoadPublic(cfg.PlatformKeyFile)
	if err != nil {
		return nil, fmt.Errorf("platform_key_file: %w", err)
	}
	return k, nil
}

// ErrConfig marks errors caused by the configuration.
var ErrConfig = errors.New("configuration")

// QRScreen is what the customer display shows of a QR order: the code
// while it can be paid, then its end; ok is false for a change the
// customer need not see (the platform has the order).
func QRScreen(o checkout.QROrder) (display.Screen, bool) {
	amount := []string{checkout.FormatMinor(o.Amount, o.Currency) + " " + o.Currency}
	switch o.Status {
	case checkout.QROpen:
		return display.Screen{QR: o.Payload, Lines: amount, Status: "qr_open"}, true
	case checkout.QRSent:
		return display.Screen{}, false
	}
	return display.Screen{Lines: amount, Status: "qr_" + o.Status}, true
}
