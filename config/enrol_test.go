package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const platformBase = "store: /srv/p/platform.db\nkey_file: /tmp/k\nbroker: {urls: [\"tcp://127.0.0.1:1\"]}\n"

func TestEnrolDefaults(t *testing.T) {
	c, err := LoadPlatform(writeConf(t, platformBase))
	if err != nil {
		t.Fatal(err)
	}
	e := c.Enrol
	if e.Dir != "/srv/p/ca" || e.CRLFile != "/srv/p/ca/crl.pem" || e.CertValidity.D() != 720*time.Hour ||
		e.RenewBefore.D() != 240*time.Hour || e.CodeExpiry.D() != 24*time.Hour || len(e.Brokers) != 0 || e.BrokerCA != "" {
		t.Fatalf("enrol defaults: %+v", e)
	}
	ca := writeConf(t, "not read, only there")
	c, err = LoadPlatform(writeConf(t, platformBase+"enrol: {dir: /etc/ca, cert_validity: 48h, renew_before: 12h, code_expiry: 10m, "+
		"brokers: [\"ssl://10.0.0.1:8883\", \"mqtts://b.example:8883\"], broker_ca: "+ca+", crl_file: /run/crl.pem}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e = c.Enrol
	if e.Dir != "/etc/ca" || e.CRLFile != "/run/crl.pem" || e.CertValidity.D() != 48*time.Hour || e.RenewBefore.D() != 12*time.Hour ||
		e.CodeExpiry.D() != 10*time.Minute || !slices.Equal(e.Brokers, []string{"ssl://10.0.0.1:8883", "mqtts://b.example:8883"}) || e.BrokerCA != ca {
		t.Fatalf("enrol as written: %+v", e)
	}
	// The CRL follows the directory when only the directory is given.
	c, err = LoadPlatform(writeConf(t, platformBase+"enrol: {dir: /etc/ca}\n"))
	if err != nil || c.Enrol.CRLFile != filepath.Join("/etc/ca", "crl.pem") {
		t.Fatalf("crl_file beside dir: %+v, %v", c, err)
	}
}

func TestEnrolBadConfigNamesTheField(t *testing.T) {
	nine := "[" + strings.Repeat("\"ssl://h:1\", ", 8) + "\"ssl://h:1\"]"
	cases := []struct{ name, conf, want string }{
		{"short validity", "{cert_validity: 59m}", "enrol.cert_validity"},
		{"long validity", "{cert_validity: 10000h}", "enrol.cert_validity"},
		{"negative validity", "{cert_validity: -1h}", "enrol.cert_validity"},
		{"window longer than validity", "{cert_validity: 24h, renew_before: 24h}", "enrol.renew_before"},
		{"negative window", "{renew_before: -1h}", "enrol.renew_before"},
		{"plain broker", "{brokers: [\"tcp://127.0.0.1:1883\"]}", "enrol.brokers[0]: want a mutual-TLS address"},
		{"broker without port", "{brokers: [\"ssl://127.0.0.1:8883\", \"ssl://host\"]}", "enrol.brokers[1]"},
		{"broker without host", "{brokers: [\"ssl://:8883\"]}", "enrol.brokers[0]"},
		{"broker not a URL", "{brokers: [\"ssl://[::1\"]}", "enrol.brokers[0]"},
		{"broker too long", "{brokers: [\"ssl://" + strings.Repeat("h", 260) + ":1\"]}", "enrol.brokers[0]: longer than 256"},
		{"too many brokers", "{brokers: " + nine + "}", "enrol.brokers: 9 brokers"},
		{"missing broker CA", "{broker_ca: /nonexistent/ca.pem}", "enrol.broker_ca"},
		{"short code", "{code_expiry: 30s}", "enrol.code_expiry"},
		{"long code", "{code_expiry: 721h}", "enrol.code_expiry"},
		{"code without unit", "{code_expiry: 24}", "duration"},
		{"unknown field", "{ca_key: /k}", "ca_key"},
		{"brokers not a list", "{brokers: \"ssl://h:1\"}", "line 4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadPlatform(writeConf(t, platformBase+"enrol: "+tc.conf+"\n"))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: want one line naming %q", err, tc.want)
			}
		})
	}
}
