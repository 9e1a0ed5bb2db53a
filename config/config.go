// Package config holds the typed configuration of the appliance daemon and
// of the reference platform, each loaded from one YAML file and validated at
// start. Errors name the field at fault ("broker.urls[0]: ...") so that a
// technician can fix the file without reading code.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/currency"
	"gopkg.in/yaml.v3"
)

// Daemon is the configuration of guichetd.
type Daemon struct {
	// Device identifies this appliance to the platform.
	Device DeviceID `yaml:"device"`
	// StateDir holds the durable store and the device key.
	StateDir string `yaml:"state_dir"`
	// Broker is how the appliance reaches the platform.
	Broker Broker `yaml:"broker"`
	// PlatformKey is the platform's Ed25519 public key (base64) that signs
	// acks, configuration and commands. Empty only in the demo, where it is
	// read from PlatformKeyFile.
	PlatformKey     string `yaml:"platform_key"`
	PlatformKeyFile string `yaml:"platform_key_file"`
	// Sync tunes the link to the platform.
	Sync Sync `yaml:"sync"`
	// Enrolment tunes the certificate of a box enrolled by `guichet
	// provision`.
	Enrolment Enrolment `yaml:"enrolment"`
	// Hardware selects "sim" (every device simulated) or "real" (drivers
	// named per device below).
	Hardware string `yaml:"hardware"`
	// Devices names the driver of each device and its options.
	Devices Devices `yaml:"devices"`
	// UI is the local web UI.
	UI UI `yaml:"ui"`
	// Checkout tunes the payment flow.
	Checkout Checkout `yaml:"checkout"`
	// EID is the government counter: the official's activation flow and
	// the e-ID QR verifier. Both are off unless configured.
	EID EID `yaml:"eid"`
	// Identity is the device's enrolment and TLS key (ECDSA P-256), kept
	// in a TPM where there is one. Records are still signed with the
	// Ed25519 device key in state_dir.
	Identity Identity `yaml:"identity"`
	// Tamper says what the tamper switch's opening does.
	Tamper Tamper `yaml:"tamper"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
}

// Tamper is the tamper switch's policy.
type Tamper struct {
	// Policy is "lock" (the default: an opening locks refunds, voids and
	// e-ID activations until a technician clears it) or "alert" (audited
	// and reported only).
	Policy string `yaml:"policy"`
}

// DeviceID names the appliance and the shop or counter it is bound to.
type DeviceID struct {
	ID     string `yaml:"id"`
	Tenant string `yaml:"tenant"`
	// Site is the shop or counter binding.
	Site string `yaml:"site"`
}

// Broker lists the MQTT brokers to fail over between, with TLS material.
type Broker struct {
	URLs []string `yaml:"urls"`
	// CA, Cert and Key are PEM files; Cert and Key make the per-device
	// client certificate. They apply to ssl:// and tls:// URLs.
	CA       string `yaml:"ca"`
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	Username string `yaml:"username"`
	// PasswordFile holds the broker password, kept out of this file.
	PasswordFile string `yaml:"password_file"`
}

// Sync tunes the outbox link.
type Sync struct {
	// Window is how many records may be in flight, unacknowledged.
	Window int `yaml:"window"`
	// AckTimeout is how long to wait for the platform's ack before sending
	// the unacknowledged records again.
	AckTimeout Duration `yaml:"ack_timeout"`
	// MinBackoff and MaxBackoff bound the reconnection delay (with jitter).
	MinBackoff Duration `yaml:"min_backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	// HealthInterval is how often the signed health report goes to the
	// platform (default 1m).
	HealthInterval Duration `yaml:"health_interval"`
}

// Devices names the driver of each device. With hardware "sim" the
// simulated drivers are used whatever is written here.
type Devices struct {
	CodeReaders []Driver `yaml:"code_readers"`
	CardReader  Driver   `yaml:"card_reader"`
	Display     Driver   `yaml:"display"`
	GPIO        Driver   `yaml:"gpio"`
	// Printer is the receipt printer, with the cash drawer on its kick
	// connector (driver escpos, or sim); none when no driver is named.
	Printer Driver `yaml:"printer"`
	// Drawer is the cash drawer, which opens on a cash sale, refund or
	// void once it is stored; none when Via is empty.
	Drawer Drawer `yaml:"drawer"`
	// FaceCamera looks at the citizen at an e-ID counter: a camera
	// driver (v4l2, video or folder) and its options.
	FaceCamera Driver `yaml:"face_camera"`
	// Firmware lists the serial peripherals whose firmware the
	// technician's page updates (docs/firmware-bridge.md); the signed
	// releases it offers are in state_dir/firmware.
	Firmware []FirmwarePort `yaml:"firmware"`
}

// FirmwarePort is a serial peripheral that takes firmware updates.
type FirmwarePort struct {
	// Name is what the technician's page shows ("sam").
	Name string `yaml:"name"`
	// Port is its serial device; Baud the line's rate (default 115200).
	Port string `yaml:"port"`
	Baud int    `yaml:"baud"`
}

func validateFirmware(ps []FirmwarePort) error {
	seen := map[string]bool{}
	for i, p := range ps {
		f := fmt.Sprintf("devices.firmware[%d]", i)
		if err := validID(f+".name", p.Name); err != nil {
			return err
		}
		if seen[p.Name] {
			return fieldErr(f+".name", "%q is listed twice", p.Name)
		}
		seen[p.Name] = true
		if !filepath.IsAbs(p.Port) {
			return fieldErr(f+".port", "must be an absolute path such as /dev/ttyUSB0, not %q", p.Port)
		}
		if p.Baud != 0 && (p.Baud < 1200 || p.Baud > 4000000) {
			return fieldErr(f+".baud", "must be between 1200 and 4000000, not %d", p.Baud)
		}
	}
	return nil
}

// Drawer says what opens the cash drawer.
type Drawer struct {
	// Via is "printer", the drawer kick connector of devices.printer
	// (ESC p; its pulse is the printer driver's drawer option), or
	// "gpio", the line "drawer" of devices.gpio driving the solenoid
	// through a transistor or relay; empty: the till has no drawer.
	Via string `yaml:"via"`
	// Pulse is how long the GPIO line is driven, for via gpio only;
	// default 100ms, at most 2s.
	Pulse Duration `yaml:"pulse"`
}

func (d Drawer) validate(devs *Devices) error {
	switch d.Via {
	case "", "gpio":
	case "printer":
		if devs.Printer.Driver == "" {
			return fieldErr("devices.drawer.via", "printer: no printer at devices.printer")
		}
	default:
		return fieldErr("devices.drawer.via", "must be printer, gpio or empty, not %q", d.Via)
	}
	switch {
	case d.Pulse != 0 && d.Via != "gpio":
		return fieldErr("devices.drawer.pulse", "only for via gpio (the printer's pulse is its driver's drawer option)")
	case d.Pulse < 0 || d.Pulse.D() > 2*time.Second:
		return fieldErr("devices.drawer.pulse", "must be between 0 and 2s, not %s", d.Pulse.D())
	}
	return nil
}

// Driver is one device: the driver's registered name and its own options,
// decoded by the driver into its typed struct.
type Driver struct {
	Driver  string    `yaml:"driver"`
	Options yaml.Node `yaml:"options"`
}

// UI is the local web UI.
type UI struct {
	// Listen is the host:port of the UI and of the local API used by the
	// guichet command. Keep it on loopback: it has no authentication of
	// its own beyond the roles' sign-in.
	Listen string `yaml:"listen"`
	// Languages offered; the first is the default.
	Languages []string `yaml:"languages"`
	// Socket is the path of the Unix socket the guichet command speaks to
	// the daemon over (default api.sock in the state directory; the
	// package sets /run/guichet/api.sock). Its mode is 0660: its owner
	// and SocketGroup may use it, as the technician's channel.
	Socket string `yaml:"socket"`
	// SocketGroup is the group given the socket (the service group); empty
	// keeps the daemon's own.
	SocketGroup string `yaml:"socket_group"`
	// IdleSignOut signs a cashier out after this long without an action
	// (a state-changing request; the pages' polls do not count); default
	// 15m, 1m to 12h.
	IdleSignOut Duration `yaml:"idle_signout"`
}

// DefaultRetention is checkout.retention's default: 400 days.
const DefaultRetention = 400 * 24 * time.Hour

// Checkout tunes the payment flow.
type Checkout struct {
	Currency string `yaml:"currency"` // ISO 4217 alpha, e.g. CNY
	// WaitOnline is how long the cashier's screen waits for the platform's
	// answer before the device decides offline, within OfflineLimits.
	WaitOnline Duration `yaml:"wait_online"`
	// OfflineLimits are what the device may approve when the platform
	// does not answer, until the platform pushes its own; left out,
	// DefaultOfflineLimits.
	OfflineLimits *OfflineLimits `yaml:"offline_limits"`
	// Merchant is what the merchant-presented QR code says of the shop.
	Merchant Merchant `yaml:"merchant"`
	// Retention is how long settled payments are kept before they are
	// pruned (default 9600h, 400 days: a year and a month of disputes);
	// a payment not settled or not acked by the platform is never pruned.
	Retention Duration `yaml:"retention"`
	// Receipt heads the receipts the printer prints.
	Receipt Receipt `yaml:"receipt"`
	// QRTTL is how long the shop's dynamic QR code can be paid after it is
	// shown (default 2m); the platform is told, and refuses a later
	// payment.
	QRTTL Duration `yaml:"qr_ttl"`
}

// OfflineLimits bound the payments approved without the platform, in
// minor units: each at most PerTransaction, those not yet decided by the
// platform at most Total together. 0 approves nothing offline.
type OfflineLimits struct {
	PerTransaction int64 `yaml:"per_transaction"`
	Total          int64 `yaml:"total"`
}

// DefaultOfflineLimits are checkout.offline_limits' default: 200.00 a
// payment, 1,000.00 in all: a small shop's few sales of an outage, a loss
// the shop can bear if the wallets decline some afterwards.
var DefaultOfflineLimits = OfflineLimits{PerTransaction: 20000, Total: 100000}

// maxOfflineAmount is checkout.MaxAmount, the largest amount a payment may have.
const maxOfflineAmount = 99999999999

func (l OfflineLimits) validate() error {
	switch {
	case l.PerTransaction < 0 || l.PerTransaction > maxOfflineAmount:
		return fieldErr("checkout.offline_limits.per_transaction", "must be between 0 and %d (minor units), not %d", int64(maxOfflineAmount), l.PerTransaction)
	case l.Total < 0 || l.Total > maxOfflineAmount:
		return fieldErr("checkout.offline_limits.total", "must be between 0 and %d (minor units), not %d", int64(maxOfflineAmount), l.Total)
	case l.PerTransaction > l.Total:
		return fieldErr("checkout.offline_limits.per_transaction", "must not be above the total (%d), not %d", l.Total, l.PerTransaction)
	}
	return nil
}

// Receipt is the letterhead of the printed receipt.
type Receipt struct {
	// Name is the shop's name as printed, in any script; default
	// checkout.merchant.name.
	Name string `yaml:"name"`
	// Address is printed under the name, a line each, at most four.
	Address []string `yaml:"address"`
	// Lang is the language of the receipt's labels: en (default), fr, zh.
	Lang string `yaml:"lang"`
	// AutoPrint prints the receipt of every payment once it is approved
	// (online, offline or in cash), without the cashier asking; it needs
	// devices.printer.
	AutoPrint bool `yaml:"auto_print"`
}

func (r Receipt) validate() error {
	switch r.Lang {
	case "", "en", "fr", "zh":
	default:
		return fieldErr("checkout.receipt.lang", "must be en, fr or zh, not %q", r.Lang)
	}
	if len(r.Address) > 4 {
		return fieldErr("checkout.receipt.address", "at most 4 lines, not %d", len(r.Address))
	}
	for i, s := range append([]string{r.Name}, r.Address...) {
		field := "checkout.receipt.name"
		if i > 0 {
			field = fmt.Sprintf("checkout.receipt.address[%d]", i-1)
		}
		// A control character would reach the printer as a command.
		if len(s) > 96 || !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
			return fieldErr(field, "must be printable text of at most 96 bytes")
		}
	}
	return nil
}

// Merchant describes the shop in EMVCo merchant-presented QR codes.
type Merchant struct {
	Name    string `yaml:"name"`
	City    string `yaml:"city"`
	MCC     string `yaml:"mcc"`     // ISO 18245 merchant category code
	Country string `yaml:"country"` // ISO 3166-1 alpha-2
	// AccountGUI and AccountID are the payment network's identifier and the
	// merchant's account with it (EMV QRCPS template 26).
	AccountGUI string `yaml:"account_gui"`
	AccountID  string `yaml:"account_id"`
}

// Duration is a time.Duration written as "1.5s" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration: %q", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// maxFile bounds a configuration file: anything larger is not one.
const maxFile = 1 << 20

// LoadDaemon reads, defaults and validates the daemon's configuration.
func LoadDaemon(path string) (*Daemon, error) {
	c := &Daemon{}
	if err := load(path, c); err != nil {
		return nil, err
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// load decodes the YAML file at path into v, refusing unknown fields.
func load(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	if len(data) > maxFile {
		return fmt.Errorf("config: %s: larger than %d bytes", path, maxFile)
	}
	return decode(path, data, v)
}

func decode(path string, data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("config: %s: empty file", path)
		}
		// yaml lists several errors on several lines; the daemon reports one.
		msg := strings.ReplaceAll(err.Error(), "yaml: ", "")
		msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "unmarshal errors:\n", "")), " ")
		return fmt.Errorf("config: %s: %s", path, msg)
	}
	return nil
}

func (c *Daemon) setDefaults() {
	if c.Hardware == "" {
		c.Hardware = "sim"
	}
	if c.Tamper.Policy == "" {
		c.Tamper.Policy = "lock"
	}
	if c.StateDir == "" {
		c.StateDir = "/var/lib/guichet"
	}
	// An enrolled box takes its tenant from the enrolment.
	if c.Device.Tenant == "" && !c.Enrolled() {
		c.Device.Tenant = "default"
	}
	c.Enrolment.setDefaults()
	if c.Sync.Window == 0 {
		// Measured: a 100k backlog drains about 15 % faster with 4000 in
		// flight than with 1000 (docs/benchmarks.md); the broker's
		// max_inflight_messages matches it.
		c.Sync.Window = 4000
	}
	if c.Sync.AckTimeout == 0 {
		c.Sync.AckTimeout = Duration(5 * time.Second)
	}
	if c.Sync.MinBackoff == 0 {
		c.Sync.MinBackoff = Duration(200 * time.Millisecond)
	}
	if c.Sync.MaxBackoff == 0 {
		c.Sync.MaxBackoff = Duration(30 * time.Second)
	}
	if c.Sync.HealthInterval == 0 {
		c.Sync.HealthInterval = Duration(time.Minute)
	}
	if c.UI.Listen == "" {
		c.UI.Listen = "127.0.0.1:8080"
	}
	if len(c.UI.Languages) == 0 {
		c.UI.Languages = []string{"zh", "en", "fr"}
	}
	if c.UI.Socket == "" && c.StateDir != "" {
		c.UI.Socket = filepath.Join(c.StateDir, "api.sock")
	}
	if c.UI.IdleSignOut == 0 {
		c.UI.IdleSignOut = Duration(15 * time.Minute)
	}
	if c.Checkout.Currency == "" {
		c.Checkout.Currency = "CNY"
	}
	m := &c.Checkout.Merchant
	if m.Name == "" {
		m.Name = "GUICHET DEMO SHOP"
	}
	if m.City == "" {
		m.City = "GUANGZHOU"
	}
	if m.MCC == "" {
		m.MCC = "5411"
	}
	if m.Country == "" {
		m.Country = "CN"
	}
	if m.AccountGUI == "" {
		m.AccountGUI = "com.example.guichet"
	}
	if m.AccountID == "" {
		m.AccountID = c.Device.Site + "-" + c.Device.ID
	}
	if c.Checkout.WaitOnline == 0 {
		c.Checkout.WaitOnline = Duration(3 * time.Second)
	}
	if c.Checkout.Retention == 0 {
		c.Checkout.Retention = Duration(DefaultRetention)
	}
	if c.Checkout.QRTTL == 0 {
		c.Checkout.QRTTL = Duration(2 * time.Minute)
	}
	if c.Checkout.OfflineLimits == nil {
		l := DefaultOfflineLimits
		c.Checkout.OfflineLimits = &l
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	c.EID.setDefaults()
	c.Identity.setDefaults(c.StateDir)
}

// FieldError is a validation error that names its field.
type FieldError struct {
	Field string
	Msg   string
}

// Error says what is wrong.
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every field and returns the first error, naming the field.
func (c *Daemon) Validate() error {
	// An enrolled box may leave out its name, which the enrolment gives;
	// one that is written must be valid (and match, see provision).
	enrolled := c.Enrolled()
	if !enrolled || c.Device.ID != "" {
		if err := validID("device.id", c.Device.ID); err != nil {
			return err
		}
	}
	if !enrolled || c.Device.Tenant != "" {
		if err := validID("device.tenant", c.Device.Tenant); err != nil {
			return err
		}
	}
	if c.StateDir == "" {
		return fieldErr("state_dir", "must be set")
	}
	if enrolled {
		if err := c.validateEnrolled(); err != nil {
			return err
		}
	} else {
		if err := c.Broker.validate("broker"); err != nil {
			return err
		}
		if c.PlatformKey == "" && c.PlatformKeyFile == "" {
			return fieldErr("platform_key", "must be set (or platform_key_file)")
		}
	}
	if err := c.Enrolment.validate(); err != nil {
		return err
	}
	if c.Sync.Window < 1 || c.Sync.Window > 65535 {
		return fieldErr("sync.window", "must be between 1 and 65535, not %d", c.Sync.Window)
	}
	if c.Sync.AckTimeout.D() < 10*time.Millisecond {
		return fieldErr("sync.ack_timeout", "must be at least 10ms")
	}
	if c.Sync.MinBackoff.D() <= 0 || c.Sync.MaxBackoff < c.Sync.MinBackoff {
		return fieldErr("sync.max_backoff", "must be at least sync.min_backoff, both positive")
	}
	if d := c.Sync.HealthInterval.D(); d < time.Second || d > time.Hour {
		return fieldErr("sync.health_interval", "must be between 1s and 1h, not %v", d)
	}
	switch c.Hardware {
	case "sim", "real":
	default:
		return fieldErr("hardware", "unknown hardware kind %q (want sim or real)", c.Hardware)
	}
	if c.Hardware == "real" {
		for i, d := range c.Devices.CodeReaders {
			if d.Driver == "" {
				return fieldErr(fmt.Sprintf("devices.code_readers[%d].driver", i), "must be set")
			}
		}
	}
	if err := c.Devices.Drawer.validate(&c.Devices); err != nil {
		return err
	}
	if err := validateFirmware(c.Devices.Firmware); err != nil {
		return err
	}
	if _, _, err := splitHostPort(c.UI.Listen); err != nil {
		return fieldErr("ui.listen", "%v", err)
	}
	if !filepath.IsAbs(c.UI.Socket) {
		return fieldErr("ui.socket", "must be an absolute path, not %q", c.UI.Socket)
	}
	// sun_path holds 108 bytes with its NUL.
	if len(c.UI.Socket) > 107 {
		return fieldErr("ui.socket", "is %d bytes long, more than a Unix socket's 107", len(c.UI.Socket))
	}
	if d := c.UI.IdleSignOut.D(); d < time.Minute || d > 12*time.Hour {
		return fieldErr("ui.idle_signout", "must be between 1m and 12h, not %s", d)
	}
	for i, l := range c.UI.Languages {
		switch l {
		case "zh", "en", "fr":
		default:
			return fieldErr(fmt.Sprintf("ui.languages[%d]", i), "unknown language %q (want zh, en or fr)", l)
		}
	}
	// Amounts are read and shown in the currency's minor units, so the
	// code must be one golang.org/x/text/currency knows the decimals of.
	if u, err := currency.ParseISO(c.Checkout.Currency); err != nil || u.String() != c.Checkout.Currency {
		return fieldErr("checkout.currency", "must be an ISO 4217 code in upper case such as CNY or JPY, not %q", c.Checkout.Currency)
	}
	if c.Checkout.WaitOnline.D() <= 0 || c.Checkout.WaitOnline.D() > time.Minute {
		return fieldErr("checkout.wait_online", "must be between 0 and 1m")
	}
	if d := c.Checkout.QRTTL.D(); d < 10*time.Second || d > time.Hour {
		return fieldErr("checkout.qr_ttl", "must be between 10s and 1h, not %s", d)
	}
	if r := c.Checkout.Retention.D(); r < 24*time.Hour || r > 10*DefaultRetention {
		return fieldErr("checkout.retention", "must be between 24h and %s, not %s", 10*DefaultRetention, r)
	}
	if m := c.Checkout.Merchant; len(m.MCC) != 4 || strings.Trim(m.MCC, "0123456789") != "" {
		return fieldErr("checkout.merchant.mcc", "must be 4 digits, not %q", m.MCC)
	}
	if m := c.Checkout.Merchant; len(m.Country) != 2 || strings.ToUpper(m.Country) != m.Country {
		return fieldErr("checkout.merchant.country", "must be an ISO 3166 code such as CN, not %q", m.Country)
	}
	if err := c.Checkout.OfflineLimits.validate(); err != nil {
		return err
	}
	if err := c.Checkout.Receipt.validate(); err != nil {
		return err
	}
	if c.Checkout.Receipt.AutoPrint && c.Devices.Printer.Driver == "" {
		return fieldErr("checkout.receipt.auto_print", "needs a printer at devices.printer")
	}
	switch c.Tamper.Policy {
	case "lock", "alert":
	default:
		return fieldErr("tamper.policy", "unknown policy %q (want lock or alert)", c.Tamper.Policy)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fieldErr("log_level", "unknown level %q (want debug, info, warn or error)", c.LogLevel)
	}
	if err := c.Identity.validate(c.StateDir); err != nil {
		return err
	}
	return c.EID.validate(&c.Devices)
}

func (b *Broker) validate(prefix string) error {
	if len(b.URLs) == 0 {
		return fieldErr(prefix+".urls", "at least one broker URL is needed")
	}
	tls := false
	for i, raw := range b.URLs {
		f := fmt.Sprintf("%s.urls[%d]", prefix, i)
		u, err := url.Parse(raw)
		if err != nil {
			return fieldErr(f, "not a URL: %q", raw)
		}
		switch u.Scheme {
		case "tcp", "mqtt":
		case "ssl", "tls", "mqtts":
			tls = true
		default:
			return fieldErr(f, "unknown scheme %q in %q (want tcp:// or ssl://)", u.Scheme, raw)
		}
		host, port, err := splitHostPort(u.Host)
		if err != nil || host == "" || port == "" {
			return fieldErr(f, "want scheme://host:port, not %q", raw)
		}
	}
	if (b.Cert == "") != (b.Key == "") {
		return fieldErr(prefix+".key", "cert and key go together")
	}
	for _, p := range []struct{ name, path string }{{"ca", b.CA}, {"cert", b.Cert}, {"key", b.Key}, {"password_file", b.PasswordFile}} {
		if p.path == "" {
			continue
		}
		if _, err := os.Stat(p.path); err != nil {
			return fieldErr(prefix+"."+p.name, "%v", err)
		}
	}
	if b.Cert != "" && !tls {
		return fieldErr(prefix+".cert", "a client certificate needs an ssl:// broker URL")
	}
	return nil
}

// validID accepts the characters that are safe in an MQTT topic level and a
// file name.
func validID(field, s string) error {
	if s == "" {
		return fieldErr(field, "must be set")
	}
	if len(s) > 64 {
		return fieldErr(field, "longer than 64 characters")
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fieldErr(field, "%q has a character other than letters, digits, '-', '_' or '.'", s)
		}
	}
	return nil
}

func splitHostPort(hp string) (host, port string, err error) {
	i := strings.LastIndexByte(hp, ':')
	if i < 0 {
		return "", "", fmt.Errorf("want host:port, not %q", hp)
	}
	host, port = strings.Trim(hp[:i], "[]"), hp[i+1:]
	if port == "" {
		return "", "", fmt.Errorf("no port in %q", hp)
	}
	for _, r := range port {
		if r < '0' || r > '9' {
			return "", "", fmt.Errorf("bad port in %q", hp)
		}
	}
	return host, port, nil
}
