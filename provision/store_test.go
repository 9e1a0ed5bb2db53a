package provision

import (
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/internal/keys"
	"github.com/guichet/guichet/provision/provisiontest"
)

// enrolled writes a good enrolment for key under a new state directory.
func enrolled(t *testing.T, ca *provisiontest.CA, key Key, life time.Duration) (string, *Enrolment) {
	t.Helper()
	pk, _, _ := ed25519.GenerateKey(nil)
	cert, err := x509.ParseCertificate(ca.Issue(t, key.Public(), "shop1/till-7", time.Now().Add(-time.Second), life))
	if err != nil {
		t.Fatal(err)
	}
	e := &Enrolment{Tenant: "shop1", Site: "rue-haute", Role: "till", Device: "till-7", Brokers: []string{"ssl://127.0.0.1:8883"},
		KeyKind: key.Kind(), Cert: cert, CA: ca.PEM, Pool: ca.Pool(), PlatformKey: pk, At: time.Now()}
	dir := t.TempDir()
	if err := e.save(dir); err != nil {
		t.Fatal(err)
	}
	return dir, e
}

const goodBinding = `{"v":1,"tenant":"shop1","site":"rue-haute","role":"till","device":"till-7","brokers":["ssl://127.0.0.1:8883"],"key_kind":"tpm","enrolled":"2026-12-05T07:00:00Z"}`

func TestParseBinding(t *testing.T) {
	b, err := parseBinding([]byte(goodBinding))
	if err != nil || b.Tenant != "shop1" || b.KeyKind != "tpm" || b.Enrolled.IsZero() {
		t.Fatalf("good binding: %+v, %v", b, err)
	}
	bad := map[string]string{
		"empty":            ``,
		"null":             `null`,
		"array":            `[]`,
		"trailing":         goodBinding + `{}`,
		"unknown field":    strings.Replace(goodBinding, `"v":1`, `"v":1,"admin":true`, 1),
		"version 2":        strings.Replace(goodBinding, `"v":1`, `"v":2`, 1),
		"no version":       strings.Replace(goodBinding, `"v":1,`, ``, 1),
		"tenant slash":     strings.Replace(goodBinding, `"shop1"`, `"shop1/x"`, 1),
		"tenant wildcard":  strings.Replace(goodBinding, `"shop1"`, `"#"`, 1),
		"empty device":     strings.Replace(goodBinding, `"till-7"`, `""`, 1),
		"device plus":      strings.Replace(goodBinding, `"till-7"`, `"till+"`, 1),
		"long site":        strings.Replace(goodBinding, `"rue-haute"`, `"`+strings.Repeat("s", 200)+`"`, 1),
		"role":             strings.Replace(goodBinding, `"till"`, `"root"`, 1),
		"key kind":         strings.Replace(goodBinding, `"tpm"`, `"hsm"`, 1),
		"plain broker":     strings.Replace(goodBinding, `ssl://`, `tcp://`, 1),
		"broker no port":   strings.Replace(goodBinding, `:8883`, ``, 1),
		"no brokers":       strings.Replace(goodBinding, `["ssl://127.0.0.1:8883"]`, `[]`, 1),
		"too many brokers": strings.Replace(goodBinding, `["ssl://127.0.0.1:8883"]`, `[`+strings.Repeat(`"ssl://h:1",`, 8)+`"ssl://h:1"]`, 1),
		"broker not text":  strings.Replace(goodBinding, `["ssl://127.0.0.1:8883"]`, `[1]`, 1),
		"no date":          strings.Replace(goodBinding, `,"enrolled":"2026-12-05T07:00:00Z"`, ``, 1),
		"bad date":         strings.Replace(goodBinding, `2026-12-05T07:00:00Z`, `yesterday`, 1),
		"huge":             `{"v":1,"tenant":"` + strings.Repeat("a", maxBinding) + `"}`,
		"nul in name":      strings.Replace(goodBinding, `"shop1"`, `"shop\u0000"`, 1),
	}
	for name, p := range bad {
		if b, err := parseBinding([]byte(p)); err == nil {
			t.Errorf("%s: accepted %+v", name, b)
		}
	}
}

func FuzzParseBinding(f *testing.F) {
	f.Add([]byte(goodBinding))
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(strings.Replace(goodBinding, `ssl://`, `mqtts://`, 1)))
	f.Fuzz(func(t *testing.T, p []byte) {
		b, err := parseBinding(p)
		if err != nil {
			return
		}
		// What is accepted is usable: names fit a topic, brokers are TLS.
		for _, s := range []string{b.Tenant, b.Site, b.Device} {
			if s == "" || strings.ContainsAny(s, "/+#\x00") {
				t.Fatalf("accepted name %q", s)
			}
		}
		for _, u := range b.Brokers {
			if !strings.HasPrefix(u, "ssl://") && !strings.HasPrefix(u, "tls://") && !strings.HasPrefix(u, "mqtts://") {
				t.Fatalf("accepted broker %q", u)
			}
		}
	})
}

func TestLoadEnrolmentRefusesDamage(t *testing.T) {
	ca := provisiontest.NewCA(t, "platform CA")
	other := provisiontest.NewCA(t, "another CA")
	key := newKey(t)
	if _, err := LoadEnrolment(t.TempDir()); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("empty state dir: %v", err)
	}
	dir, e := enrolled(t, ca, key, time.Hour)
	if got, err := LoadEnrolment(dir); err != nil || got.String() != e.String() {
		t.Fatalf("good enrolment: %v", err)
	}
	write := func(name, data string) func(dir string) {
		return func(dir string) { os.WriteFile(filepath.Join(dir, Dir, name), []byte(data), 0o644) }
	}
	cases := []struct {
		name   string
		damage func(dir string)
		want   string
	}{
		{"no certificate", func(dir string) { os.Remove(filepath.Join(dir, Dir, CertFile)) }, "incomplete"},
		{"no CA", func(dir string) { os.Remove(filepath.Join(dir, Dir, CAFile)) }, "incomplete"},
		{"no platform key", func(dir string) { os.Remove(filepath.Join(dir, Dir, PlatformKeyFile)) }, "platform.pub"},
		{"binding damaged", write(BindingFile, goodBinding[:40]), BindingFile},
		{"binding for another device", write(BindingFile, strings.Replace(goodBinding, "till-7", "till-8", 1)), "till-8"},
		{"binding for another tenant", write(BindingFile, strings.Replace(goodBinding, "shop1", "shop2", 1)), "shop2"},
		{"certificate from another CA", write(CertFile, string(certPEMBytes(other.Issue(t, key.Public(), "shop1/till-7", time.Now(), time.Hour)))), "unknown authority"},
		{"two certificates", write(CertFile, string(certPEMBytes(e.Cert.Raw))+string(certPEMBytes(e.Cert.Raw))), "one PEM"},
		{"certificate not PEM", write(CertFile, "hello"), "one PEM"},
		{"certificate garbage", write(CertFile, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), CertFile},
		{"CA is a leaf", write(CAFile, string(certPEMBytes(e.Cert.Raw))), "not a CA"},
		{"CA with a key in it", write(CAFile, string(ca.PEM)+"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), "PRIVATE KEY"},
		{"CA with trailing text", write(CAFile, string(ca.PEM)+"junk\n"), "not a PEM list"},
		{"CA empty", write(CAFile, ""), "CA bundle"},
		{"CA huge", write(CAFile, strings.Repeat("x", 64<<10)), "bytes"},
		{"binding huge", write(BindingFile, strings.Repeat(" ", 64<<10)+goodBinding), "bytes"},
		{"platform key short", write(PlatformKeyFile, "AAAA\n"), "Ed25519"},
		{"platform key garbage", write(PlatformKeyFile, "not base64!\n"), "Ed25519"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := enrolled(t, ca, key, time.Hour)
			tc.damage(dir)
			_, err := LoadEnrolment(dir)
			if err == nil || errors.Is(err, ErrNotEnrolled) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
		})
	}
	// An expired certificate still loads: the daemon runs offline and
	// says why it cannot connect.
	old, err := x509.ParseCertificate(ca.Issue(t, key.Public(), "shop1/till-7", time.Now().Add(-50*time.Minute), 40*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	dir, _ = enrolled(t, ca, key, time.Hour)
	if err := saveCert(dir, old); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadEnrolment(dir); err != nil || !got.Cert.Equal(old) {
		t.Fatalf("expired certificate: %v", err)
	}
	if _, err := keys.LoadPublic(filepath.Join(dir, Dir, PlatformKeyFile)); err != nil {
		t.Fatal(err)
	}
}
