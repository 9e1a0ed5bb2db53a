package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/guichet/guichet/checkout"
	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/internal/brokertest"
	"github.com/guichet/guichet/provision/claim"
)

// enrolConf writes a platform configuration with enrolment on.
func enrolConf(t *testing.T, url string) (string, ed25519.PublicKey) {
	t.Helper()
	p, pub := platformConf(t, url)
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "batch_delay: 1ms\nenrol: {brokers: [\"ssl://127.0.0.1:8883\"], cert_validity: 48h}\n")
	f.Close()
	return p, pub
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errb, code := runCmd(args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errb)
	}
	return out
}

// enrolRequest is a blank box's request: its own ECDSA key in a CSR and
// the record key its records will be signed with.
func enrolRequest(t *testing.T, code, device string, recordKey ed25519.PublicKey) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: device}}, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := claim.ParseCode(code)
	if err != nil {
		t.Fatal(err)
	}
	p, err := claim.Encode(claim.Request{V: claim.Version, Code: c, Device: device, CSR: csr, RecordKey: recordKey, KeyKind: "file"})
	if err != nil {
		t.Fatal(err)
	}
	return p, k
}

// provision is the box's side of the exchange over MQTT: it asks until the
// platform answers (the platform subscribes once connected).
func provision(t *testing.T, url string, payload []byte) (*claim.Response, error) {
	t.Helper()
	cid, _ := claim.NewClientID()
	answers := make(chan []byte, 1)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(cid))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Subscribe(claim.ResponseTopic(cid), 1, func(_ mqtt.Client, m mqtt.Message) { answers <- m.Payload() }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	for i := 0; i < 100; i++ {
		c.Publish(claim.RequestTopic(cid), 1, false, payload).Wait()
		select {
		case p := <-answers:
			return claim.DecodeResponse(p)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatal("the platform never answered")
	return nil, nil
}

type listedJSON struct {
	Devices []struct {
		Tenant, Device, Site, Role, State, Serial string
		KeyKind                                   string    `json:"key_kind"`
		NotAfter                                  time.Time `json:"not_after"`
		RenewDue                                  bool      `json:"renew_due"`
	} `json:"devices"`
}

func listDevices(t *testing.T, conf string) listedJSON {
	t.Helper()
	var l listedJSON
	if err := json.Unmarshal([]byte(mustRun(t, "--config", conf, "device", "list", "--json")), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func crlSerials(t *testing.T, conf string) []string {
	t.Helper()
	cfg, err := config.LoadPlatform(conf)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfg.Enrol.CRLFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	crl, err := x509.ParseRevocationList(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, e := range crl.RevokedCertificateEntries {
		s = append(s, e.SerialNumber.Text(16))
	}
	return s
}

// The technician's path end to end through the commands: a code (with
// its QR), a blank box enrolling with it against `run`, its records
// applied under the enrolled key, then replace and revoke from another
// process while `run` goes on, each taking effect at once.
func TestEnrolCommands(t *testing.T) {
	b := brokertest.StartMosquitto(t)
	conf, platPub := enrolConf(t, b.URL())
	cfg, err := config.LoadPlatform(conf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := serve(ctx, cfg, io.Discard); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })

	pngPath := filepath.Join(t.TempDir(), "code.png")
	out, errb, code := runCmd("--config", conf, "enrol-code", "--tenant", "shop-1", "--site", "paris-3", "--role", "till", "--qr", pngPath, "--term")
	if code != 0 {
		t.Fatalf("enrol-code: exit %d: %s", code, errb)
	}
	lines := strings.Split(out, "\n")
	enrolCode := lines[0]
	if _, err := claim.ParseCode(enrolCode); err != nil || len(enrolCode) != 19 {
		t.Fatalf("first line %q is not a code: %v", enrolCode, err)
	}
	if len(lines) < 10 || !strings.Contains(out, "█") || !strings.Contains(errb, "till of shop-1 at paris-3") {
		t.Fatalf("no QR code as text, or no summary:\n%s\n%s", out, errb)
	}
	// The PNG a scanner reads says the code.
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	read, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil || read.GetText() != enrolCode {
		t.Fatalf("the QR code reads %v (%v), want %s", read, err, enrolCode)
	}

	// The box: its records are signed with the key it enrols.
	d := startDevice(t, conf, b.URL(), platPub, "shop-1", "till-1")
	req, _ := enrolRequest(t, enrolCode, "till-1", d.key)
	resp, err := provision(t, b.URL(), req)
	if err != nil {
		t.Fatalf("enrolment: %v", err)
	}
	if resp.Tenant != "shop-1" || resp.Site != "paris-3" || resp.Role != "till" || !platPub.Equal(ed25519.PublicKey(resp.PlatformKey)) || string(resp.CA) != mustRun(t, "--config", conf, "ca", "show") {
		t.Fatalf("response: %s %s %s, CA %q", resp.Tenant, resp.Site, resp.Role, resp.CA)
	}
	cert, _ := x509.ParseCertificate(resp.Cert)
	l := listDevices(t, conf)
	if len(l.Devices) != 1 || l.Devices[0].Device != "till-1" || l.Devices[0].State != "active" || l.Devices[0].Serial != cert.SerialNumber.Text(16) ||
		l.Devices[0].KeyKind != "file" || l.Devices[0].RenewDue || l.Devices[0].NotAfter.Sub(time.Now()) > 48*time.Hour {
		t.Fatalf("device list: %+v", l)
	}
	if text := mustRun(t, "--config", conf, "device", "list"); !strings.Contains(text, "shop-1/till-1") || !strings.Contains(text, "paris-3") {
		t.Fatalf("device list:\n%s", text)
	}
	// The same code again: refused with its reason.
	again, _ := enrolRequest(t, enrolCode, "till-2", d.key)
	if _, err := provision(t, b.URL(), again); err == nil || !strings.Contains(err.Error(), "code already used") {
		t.Fatalf("second use of the code: %v", err)
	}
	// The enrolled box's records are the platform's to apply.
	p, err := d.s.Pay(ctx, 1234, "144567890123456780")
	if err != nil || p.Status != checkout.StatusApproved {
		t.Fatalf("pay as the enrolled box: %+v, %v", p, err)
	}

	// Replace from another process: the old box is dead at once.
	out = mustRun(t, "--config", conf, "device", "replace", "shop-1/till-1", "--expires", "1h")
	replCode := strings.Split(out, "\n")[0]
	if _, err := claim.ParseCode(replCode); err != nil || strings.Contains(out, "█") {
		t.Fatalf("replace printed %q (a QR code only on a terminal or with --term)", out)
	}
	if s := crlSerials(t, conf); len(s) != 1 || s[0] != cert.SerialNumber.Text(16) {
		t.Fatalf("CRL %v, want the old serial", s)
	}
	if _, err := d.s.Pay(ctx, 1234, "144567890123456781"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the old box's record refused", func() bool {
		var st Stats
		json.Unmarshal([]byte(mustRun(t, "--config", conf, "stats", "--json")), &st)
		return st.Rejected >= 1 && st.Applied == 1
	})
	// The new box takes the name with the replacement code, and keeps
	// the binding.
	_, newRecordKey, _ := ed25519.GenerateKey(nil)
	req, _ = enrolRequest(t, replCode, "till-1", newRecordKey.Public().(ed25519.PublicKey))
	resp, err = provision(t, b.URL(), req)
	if err != nil || resp.Site != "paris-3" || resp.Role != "till" {
		t.Fatalf("replacement enrolment: %+v, %v", resp, err)
	}
	if l := listDevices(t, conf); len(l.Devices) != 1 || l.Devices[0].State != "active" || l.Devices[0].Serial == cert.SerialNumber.Text(16) {
		t.Fatalf("after replacement: %+v", l)
	}

	out = mustRun(t, "--config", conf, "device", "revoke", "shop-1/till-1")
	if !strings.Contains(out, "revoked shop-1/till-1") {
		t.Fatalf("revoke printed %q", out)
	}
	if l := listDevices(t, conf); l.Devices[0].State != "revoked" || l.Devices[0].RenewDue {
		t.Fatalf("after revoke: %+v", l)
	}
	if s := crlSerials(t, conf); len(s) != 2 {
		t.Fatalf("CRL %v, want both boxes' certificates", s)
	}
}

func TestCACommands(t *testing.T) {
	conf, _ := enrolConf(t, "tcp://127.0.0.1:1")
	caPEM := mustRun(t, "--config", conf, "ca", "show")
	if mustRun(t, "--config", conf, "ca", "show") != caPEM {
		t.Fatal("a second ca show made another CA")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatalf("ca show: %q", caPEM)
	}
	dir := t.TempDir()
	out := mustRun(t, "--config", conf, "ca", "broker-cert", "--host", "127.0.0.1", "--host", "broker.local", "--out", dir)
	if !strings.Contains(out, filepath.Join(dir, "broker.pem")) {
		t.Fatalf("broker-cert printed %q", out)
	}
	out = mustRun(t, "--config", conf, "ca", "platform-cert", "--out", dir, "--valid", "24h")
	if !strings.Contains(out, filepath.Join(dir, "guichet-platform-p1.pem")) {
		t.Fatalf("platform-cert printed %q", out)
	}
	out = mustRun(t, "--config", conf, "ca", "client-cert", "--cn", "guichet-provision-bridge", "--out", dir)
	if !strings.Contains(out, filepath.Join(dir, "guichet-provision-bridge.pem")) {
		t.Fatalf("client-cert printed %q", out)
	}
	for _, tc := range []struct {
		file, name string
		usage      x509.ExtKeyUsage
	}{{"broker.pem", "broker.local", x509.ExtKeyUsageServerAuth}, {"guichet-platform-p1.pem", "", x509.ExtKeyUsageClientAuth},
		{"guichet-provision-bridge.pem", "", x509.ExtKeyUsageClientAuth}} {
		b, _ := os.ReadFile(filepath.Join(dir, tc.file))
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: not PEM", tc.file)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: tc.name, KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		key := strings.TrimSuffix(tc.file, ".pem") + ".key"
		if st, err := os.Stat(filepath.Join(dir, key)); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", key, st, err)
		}
	}
	if ca, _ := os.ReadFile(filepath.Join(dir, "ca.pem")); string(ca) != caPEM {
		t.Fatal("ca.pem is not the CA")
	}
	crl := strings.TrimSpace(mustRun(t, "--config", conf, "ca", "crl"))
	if b, err := os.ReadFile(crl); err != nil || !strings.Contains(string(b), "X509 CRL") {
		t.Fatalf("ca crl wrote %q: %v", crl, err)
	}
}

func TestEnrolCommandsRefuseBadInvocations(t *testing.T) {
	conf, _ := enrolConf(t, "tcp://127.0.0.1:1")
	plain, _ := platformConf(t, "tcp://127.0.0.1:1")
	code := []string{"enrol-code", "--tenant", "shop-1", "--site", "s", "--role", "till"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no tenant", []string{"enrol-code", "--site", "s", "--role", "till"}, "--tenant, --site and --role are required"},
		{"bad role", []string{"enrol-code", "--tenant", "t", "--site", "s", "--role", "manager"}, "role"},
		{"tenant with a slash", []string{"enrol-code", "--tenant", "a/b", "--site", "s", "--role", "till"}, "tenant"},
		{"tenant wildcard", []string{"enrol-code", "--tenant", "+", "--site", "s", "--role", "till"}, "tenant"},
		{"reserved tenant", []string{"enrol-code", "--tenant", "provision", "--site", "s", "--role", "till"}, "reserved"},
		{"site with a space", []string{"enrol-code", "--tenant", "t", "--site", "a b", "--role", "till"}, "site"},
		{"expires zero", append(code, "--expires", "0s"), "--expires"},
		{"expires a year", append(code, "--expires", "8760h"), "--expires"},
		{"expires not a duration", append(code, "--expires", "tomorrow"), "invalid value"},
		{"unknown flag", append(code, "--forever"), "flag provided but not defined"},
		{"extra argument", append(code, "more"), "unexpected argument"},
		{"device without sub", []string{"device"}, "list, revoke or replace"},
		{"device unknown sub", []string{"device", "delete", "t/d"}, "not list, revoke or replace"},
		{"revoke without target", []string{"device", "revoke"}, "TENANT/DEVICE is required"},
		{"revoke bad target", []string{"device", "revoke", "till-1"}, "tenant/device"},
		{"revoke wildcard target", []string{"device", "revoke", "t/#"}, "tenant/device"},
		{"revoke two targets", []string{"device", "revoke", "t/a", "t/b"}, "unexpected argument"},
		{"replace bad expiry", []string{"device", "replace", "t/a", "--expires", "-1h"}, "--expires"},
		{"list extra", []string{"device", "list", "all"}, "unexpected argument"},
		{"ca without sub", []string{"ca"}, "show, broker-cert"},
		{"ca unknown sub", []string{"ca", "sign"}, "not show"},
		{"broker-cert without host", []string{"ca", "broker-cert", "--out", "/tmp/x"}, "--host"},
		{"broker-cert without out", []string{"ca", "broker-cert", "--host", "127.0.0.1"}, "--out"},
		{"platform-cert short", []string{"ca", "platform-cert", "--out", "/tmp/x", "--valid", "1m"}, "--valid"},
		{"client-cert without cn", []string{"ca", "client-cert", "--out", "/tmp/x"}, "--cn"},
		{"client-cert as a device", []string{"ca", "client-cert", "--cn", "shop-1/till-1", "--out", "/tmp/x"}, "--cn"},
		{"client-cert wildcard", []string{"ca", "client-cert", "--cn", "#", "--out", "/tmp/x"}, "--cn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errb, code := runCmd(append([]string{"--config", conf}, tc.args...)...)
			if code != 2 || !strings.Contains(errb, tc.want) || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and %q", code, out, errb, tc.want)
			}
		})
	}
	// Without enrol.brokers no code is made: no device could use it.
	if _, errb, code := runCmd(append([]string{"--config", plain}, code...)...); code != 2 || !strings.Contains(errb, "enrol.brokers") {
		t.Fatalf("enrol-code without brokers: exit %d: %s", code, errb)
	}
	// A well-formed command about a device that is not there fails (1).
	if _, errb, code := runCmd("--config", conf, "device", "revoke", "shop-1/ghost"); code != 1 || !strings.Contains(errb, "not enrolled") {
		t.Fatalf("revoke of an unknown device: exit %d: %s", code, errb)
	}
	if _, errb, code := runCmd("--config", conf, "device", "replace", "shop-1/ghost"); code != 1 || !strings.Contains(errb, "not enrolled") {
		t.Fatalf("replace of an unknown device: exit %d: %s", code, errb)
	}
}
