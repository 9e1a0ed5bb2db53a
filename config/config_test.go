package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const minimal = `device: {id: till-1}
broker: {urls: ["tcp://127.0.0.1:1883"]}
platform_key: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
`

func writeConf(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "guichetd.yaml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := LoadDaemon(writeConf(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hardware != "sim" || c.Tamper.Policy != "lock" || c.UI.Listen != "127.0.0.1:8080" || c.Sync.Window != 4000 || c.Checkout.WaitOnline.D() != 3*time.Second || c.Checkout.Retention.D() != 400*24*time.Hour || c.Device.Tenant != "default" {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if l := c.Checkout.OfflineLimits; l == nil || *l != DefaultOfflineLimits {
		t.Fatalf("offline limits default %+v", l)
	}
	// Written, they are kept as written: 0 approves nothing offline.
	c, err = LoadDaemon(writeConf(t, minimal+"checkout: {offline_limits: {per_transaction: 0, total: 0}}\n"))
	if err != nil || *c.Checkout.OfflineLimits != (OfflineLimits{}) {
		t.Fatalf("offline limits written as 0: %+v %v", c, err)
	}
}

// TestCurrencies: any ISO 4217 code x/text/currency knows is accepted,
// whatever its decimals.
func TestCurrencies(t *testing.T) {
	for _, code := range []string{"CNY", "JPY", "BHD", "EUR", "KRW"} {
		c, err := LoadDaemon(writeConf(t, minimal+"checkout: {currency: "+code+"}\n"))
		if err != nil || c.Checkout.Currency != code {
			t.Errorf("currency %s: %v", code, err)
		}
	}
}

func TestBadFilesNameTheField(t *testing.T) {
	cases := []struct{ name, conf, want string }{
		{"empty", "", "empty file"},
		{"not yaml", "\x00\x01\x02: [", "guichetd.yaml"},
		{"unclosed", "device: {id: [x\n", "guichetd.yaml"},
		{"unknown field", minimal + "colour: blue\n", "colour"},
		{"no device id", strings.Replace(minimal, "till-1", `""`, 1), "device.id"},
		{"device id with slash", strings.Replace(minimal, "till-1", `"a/b"`, 1), "device.id"},
		{"no broker", strings.Replace(minimal, `broker: {urls: ["tcp://127.0.0.1:1883"]}`, "", 1), "broker.urls"},
		{"broker without scheme", strings.Replace(minimal, "tcp://127.0.0.1:1883", "127.0.0.1:1883", 1), "broker.urls[0]"},
		{"broker bad scheme", strings.Replace(minimal, "tcp://", "http://", 1), "broker.urls[0]"},
		{"broker bad port", strings.Replace(minimal, ":1883", ":mqtt", 1), "broker.urls[0]"},
		{"broker no port", strings.Replace(minimal, ":1883", "", 1), "broker.urls[0]"},
		{"cert without key", minimal + "broker: {urls: [\"ssl://h:8883\"], cert: /x}\n", "broker"},
		{"missing ca file", strings.Replace(minimal, `broker: {urls: ["tcp://127.0.0.1:1883"]}`, `broker: {urls: ["ssl://h:8883"], ca: /nonexistent/ca.pem}`, 1), "broker.ca"},
		{"unknown hardware", minimal + "hardware: quantum\n", "hardware"},
		{"window too large", minimal + "sync: {window: 1000000}\n", "sync.window"},
		{"bad duration", minimal + "sync: {ack_timeout: soon}\n", "duration"},
		{"tiny ack timeout", minimal + "sync: {ack_timeout: 1ns}\n", "sync.ack_timeout"},
		{"health too often", minimal + "sync: {health_interval: 10ms}\n", "sync.health_interval"},
		{"health too rare", minimal + "sync: {health_interval: 2h}\n", "sync.health_interval"},
		{"bad listen", minimal + "ui: {listen: localhost}\n", "ui.listen"},
		{"bad language", minimal + "ui: {languages: [de]}\n", "ui.languages[0]"},
		{"relative socket", minimal + "ui: {socket: api.sock}\n", "ui.socket"},
		{"long socket", minimal + "ui: {socket: /" + strings.Repeat("s", 120) + "}\n", "ui.socket"},
		{"short idle sign-out", minimal + "ui: {idle_signout: 10s}\n", "ui.idle_signout"},
		{"long idle sign-out", minimal + "ui: {idle_signout: 24h}\n", "ui.idle_signout"},
		{"bad currency", minimal + "checkout: {currency: yuan}\n", "checkout.currency"},
		{"unknown currency", minimal + "checkout: {currency: ABC}\n", "checkout.currency"},
		{"lower-case currency", minimal + "checkout: {currency: jpy}\n", "checkout.currency"},
		{"short retention", minimal + "checkout: {retention: 1h}\n", "checkout.retention"},
		{"negative retention", minimal + "checkout: {retention: -24h}\n", "checkout.retention"},
		{"short qr_ttl", minimal + "checkout: {qr_ttl: 1s}\n", "checkout.qr_ttl"},
		{"long qr_ttl", minimal + "checkout: {qr_ttl: 2h}\n", "checkout.qr_ttl"},
		{"negative offline limit", minimal + "checkout: {offline_limits: {per_transaction: -1, total: 100}}\n", "checkout.offline_limits.per_transaction"},
		{"offline limit above total", minimal + "checkout: {offline_limits: {per_transaction: 200, total: 100}}\n", "checkout.offline_limits.per_transaction"},
		{"huge offline total", minimal + "checkout: {offline_limits: {per_transaction: 1, total: 100000000000}}\n", "checkout.offline_limits.total"},
		{"offline limits not numbers", minimal + "checkout: {offline_limits: {per_transaction: lots}}\n", "lots"},
		{"offline limits unknown field", minimal + "checkout: {offline_limits: {daily: 5}}\n", "daily"},
		{"bad log level", minimal + "log_level: loud\n", "log_level"},
		{"unknown tamper policy", minimal + "tamper: {policy: ignore}\n", "tamper.policy"},
		{"tamper unknown field", minimal + "tamper: {polcy: alert}\n", "polcy"},
		{"no platform key", strings.Replace(minimal, `platform_key: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="`, "", 1), "platform_key"},
		{"real hardware without driver", minimal + "hardware: real\ndevices: {code_readers: [{driver: \"\"}]}\n", "devices.code_readers[0].driver"},
		{"auto print without a printer", minimal + "checkout: {receipt: {auto_print: true}}\n", "checkout.receipt.auto_print"},
		{"unknown drawer", minimal + "devices: {drawer: {via: usb}}\n", "devices.drawer.via"},
		{"drawer on no printer", minimal + "devices: {drawer: {via: printer}}\n", "devices.drawer.via"},
		{"printer drawer with a pulse", minimal + "devices: {printer: {driver: sim}, drawer: {via: printer, pulse: 50ms}}\n", "devices.drawer.pulse"},
		{"long drawer pulse", minimal + "devices: {drawer: {via: gpio, pulse: 3s}}\n", "devices.drawer.pulse"},
		{"negative drawer pulse", minimal + "devices: {drawer: {via: gpio, pulse: -1ms}}\n", "devices.drawer.pulse"},
		{"drawer unknown field", minimal + "devices: {drawer: {vía: gpio}}\n", "vía"},
		{"wrong type", minimal + "sync: {window: many}\n", "line 4"},
		{"huge", minimal + "# " + strings.Repeat("x", 2<<20) + "\n", "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadDaemon(writeConf(t, tc.conf))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line naming %q", err, tc.want)
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	if _, err := LoadDaemon(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestPlatform(t *testing.T) {
	p := writeConf(t, "store: /tmp/x.db\nkey_file: /tmp/k\nbroker: {urls: [\"tcp://127.0.0.1:1\"]}\n")
	c, err := LoadPlatform(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Instance != "p1" || c.BatchMax != 2000 {
		t.Fatalf("defaults: %+v", c)
	}
	p = writeConf(t, "store: /tmp/x.db\nkey_file: /tmp/k\nbroker: {urls: [\"tcp://127.0.0.1:1\"]}\nbatch_max: 0\nbatch_delay: 5s\n")
	if _, err := LoadPlatform(p); err == nil || !strings.Contains(err.Error(), "batch_delay") {
		t.Fatalf("bad batch_delay: %v", err)
	}
}

func FuzzDaemonConfig(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + "sync: {window: 5, ack_timeout: 1s}\n"))
	f.Add([]byte(minimal + "identity: {kind: tpm, tpm_address: \"127.0.0.1:1\", key_file: /k}\n"))
	f.Add([]byte("device: &a {id: *a}\n"))
	f.Add([]byte("a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &Daemon{}
		if err := decode("f.yaml", data, c); err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		c.setDefaults()
		_ = c.Validate() // must not panic
	})
}

func TestPlatformRules(t *testing.T) {
	const base = "store: /tmp/x.db\nkey_file: /tmp/k\nbroker: {urls: [\"tcp://127.0.0.1:1\"]}\n"
	c, err := LoadPlatform(writeConf(t, base))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Rules
	if !slices.Equal(r.ConfirmPrefixes, []string{"1555"}) || !slices.Equal(r.AbandonPrefixes, []string{"1556"}) ||
		r.ConfirmAbove != 100000 || r.ConfirmAfter.D() != 3*time.Second || r.MaxAmount != 500000 ||
		r.CodeTTL.D() != time.Minute || r.OfflineWindow.D() != 24*time.Hour {
		t.Fatalf("rules defaults: %+v", r)
	}
	c, err = LoadPlatform(writeConf(t, base+"rules: {confirm_prefixes: [\"1345\", \"hQVD\"], abandon_prefixes: [], confirm_above: 2000, confirm_after: 500ms}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r = c.Rules
	if !slices.Equal(r.ConfirmPrefixes, []string{"1345", "hQVD"}) || r.AbandonPrefixes == nil || len(r.AbandonPrefixes) != 0 ||
		r.ConfirmAbove != 2000 || r.ConfirmAfter.D() != 500*time.Millisecond {
		t.Fatalf("rules as written: %+v", r)
	}

	many := "[" + strings.Repeat("\"1\", ", 64) + "\"1\"]"
	cases := []struct{ name, rules, want string }{
		{"empty prefix", `{confirm_prefixes: [""]}`, "rules.confirm_prefixes[0]: must not be empty"},
		{"space in prefix", `{abandon_prefixes: ["15 56"]}`, "rules.abandon_prefixes[0]"},
		{"control in prefix", `{abandon_prefixes: ["1556", "\x01"]}`, "rules.abandon_prefixes[1]"},
		{"non-ASCII prefix", `{confirm_prefixes: ["１５５５"]}`, "rules.confirm_prefixes[0]"},
		{"long prefix", `{confirm_prefixes: ["` + strings.Repeat("1", 33) + `"]}`, "rules.confirm_prefixes[0]: longer than 32"},
		{"too many prefixes", `{confirm_prefixes: ` + many + `}`, "rules.confirm_prefixes: 65 prefixes"},
		{"in both lists", `{confirm_prefixes: ["1555"], abandon_prefixes: ["1556", "1555"]}`, "rules.abandon_prefixes[1]: \"1555\" is already in rules.confirm_prefixes"},
		{"prefix not a list", `{confirm_prefixes: "1555"}`, "line 4"},
		{"negative amount", `{confirm_above: -1}`, "rules.confirm_above"},
		{"huge amount", `{confirm_above: 100000000000}`, "rules.confirm_above"},
		{"amount overflows", `{confirm_above: 99999999999999999999}`, "line 4"},
		{"amount as text", `{confirm_above: lots}`, "line 4"},
		{"negative delay", `{confirm_after: -1s}`, "rules.confirm_after"},
		{"long delay", `{confirm_after: 11m}`, "rules.confirm_after"},
		{"tiny code ttl", `{code_ttl: 1ms}`, "rules.code_ttl"},
		{"long code ttl", `{code_ttl: 2h}`, "rules.code_ttl"},
		{"negative code ttl", `{code_ttl: -1m}`, "rules.code_ttl"},
		{"window under ttl", `{code_ttl: 2m, offline_window: 1m}`, "rules.offline_window"},
		{"window too long", `{offline_window: 1000h}`, "rules.offline_window"},
		{"delay without unit", `{confirm_after: 3}`, "duration"},
		{"unknown rule", `{confirm_maybe: true}`, "confirm_maybe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPlatform(writeConf(t, base+"rules: "+tc.rules+"\n"))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line naming %q", err, tc.want)
			}
		})
	}
}

func TestReceiptLetterhead(t *testing.T) {
	c, err := LoadDaemon(writeConf(t, minimal+"checkout: {receipt: {name: 老王面馆, address: [北京市东城区, \"Tel. 010-6400 1234\"], lang: zh}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Checkout.Receipt; r.Name != "老王面馆" || len(r.Address) != 2 || r.Lang != "zh" {
		t.Fatalf("receipt %+v", r)
	}
	for _, c := range []struct{ conf, want string }{
		{"checkout: {receipt: {lang: de}}\n", "checkout.receipt.lang"},
		{"checkout: {receipt: {name: \"Shop\\e p\"}}\n", "checkout.receipt.name"},
		{"checkout: {receipt: {address: [a, \"b\\u001dV\"]}}\n", "checkout.receipt.address[1]"},
		{"checkout: {receipt: {address: [a, b, c, d, e]}}\n", "checkout.receipt.address"},
		{"checkout: {receipt: {name: " + strings.Repeat("x", 97) + "}}\n", "checkout.receipt.name"},
		{"checkout: {receipt: {nom: x}}\n", "nom"},
	} {
		if _, err := LoadDaemon(writeConf(t, minimal+c.conf)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an error naming %s", c.conf, err, c.want)
		}
	}
}

func TestDrawerAccepted(t *testing.T) {
	for _, conf := range []string{
		"devices: {drawer: {via: gpio, pulse: 150ms}}\n",
		"devices: {drawer: {via: gpio}}\n",
		"devices: {printer: {driver: escpos, options: {port: /dev/ttyUSB0}}, drawer: {via: printer}}\n",
		"devices: {drawer: {}}\n",
		"devices: {printer: {driver: sim}}\ncheckout: {receipt: {auto_print: true}}\n",
	} {
		c, err := LoadDaemon(writeConf(t, minimal+conf))
		if err != nil {
			t.Fatalf("%s: %v", conf, err)
		}
		if strings.Contains(conf, "150ms") && c.Devices.Drawer.Pulse.D() != 150*time.Millisecond {
			t.Fatalf("pulse %v", c.Devices.Drawer.Pulse.D())
		}
	}
}

// TestFirmwarePorts: the peripherals the technician's page updates are
// checked at start, errors naming the field.
func TestFirmwarePorts(t *testing.T) {
	c, err := LoadDaemon(writeConf(t, minimal+"devices: {firmware: [{name: sam, port: /dev/ttyUSB0}, {name: scanner, port: /dev/ttyACM0, baud: 57600}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Devices.Firmware) != 2 || c.Devices.Firmware[1].Baud != 57600 {
		t.Fatalf("firmware %+v", c.Devices.Firmware)
	}
	for _, tc := range []struct{ conf, want string }{
		{"devices: {firmware: [{port: /dev/ttyUSB0}]}\n", "devices.firmware[0].name"},
		{"devices: {firmware: [{name: sam, port: ttyUSB0}]}\n", "devices.firmware[0].port"},
		{"devices: {firmware: [{name: sam, port: /dev/ttyUSB0, baud: 12}]}\n", "devices.firmware[0].baud"},
		{"devices: {firmware: [{name: sam, port: /dev/a}, {name: sam, port: /dev/b}]}\n", "devices.firmware[1].name"},
		{"devices: {firmware: [{name: sam, port: /dev/a, speed: 9600}]}\n", "speed"},
	} {
		if _, err := LoadDaemon(writeConf(t, minimal+tc.conf)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.conf, err, tc.want)
		}
	}
}
