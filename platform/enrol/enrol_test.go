package enrol

import (
	"bytes"
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
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/guichet/guichet/platform"
	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/sync/envelope"
)

// env is a platform's enrolment: its store, CA and service, with a clock
// the test moves.
type env struct {
	svc   *Service
	store *platform.Store
	ca    *CA
	dir   string
	now   time.Time
	plat  ed25519.PublicKey
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	store, err := platform.OpenStore(filepath.Join(dir, "platform.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ca, err := LoadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	e := &env{store: store, ca: ca, dir: dir, now: time.Now(), plat: pub}
	e.svc, err = New(Config{CA: ca, Store: store, PlatformKey: pub, Brokers: []string{"ssl://127.0.0.1:8883"},
		Validity: 48 * time.Hour, CRLFile: filepath.Join(dir, "crl.pem"), Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) code(t testing.TB, tenant, site, role string) claim.Code {
	t.Helper()
	c, _, err := e.svc.NewCode(context.Background(), tenant, site, role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// box is a blank appliance: its TLS key (ECDSA P-256, as the device's
// identity key) and its record key.
type box struct {
	key  *ecdsa.PrivateKey
	rkey ed25519.PrivateKey
	seq  uint64
	prev envelope.Hash
}

func newBox(t testing.TB) *box {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, rk, _ := ed25519.GenerateKey(nil)
	return &box{key: k, rkey: rk}
}

func (b *box) csr(t testing.TB) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "whatever the box says"}}, b.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (b *box) request(t testing.TB, code claim.Code, device string) *claim.Request {
	return &claim.Request{V: claim.Version, Code: code, Device: device, CSR: b.csr(t),
		RecordKey: b.rkey.Public().(ed25519.PublicKey), KeyKind: "file"}
}

// payload is the request as the box puts it on the wire.
func (b *box) payload(t testing.TB, code claim.Code, device string) []byte {
	p, err := claim.Encode(b.request(t, code, device))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// record makes the box's next signed record as tenant/device.
func (b *box) record(tenant, device string) platform.Incoming {
	b.seq++
	p, _ := json.Marshal(envelope.Record{Tenant: tenant, Device: device, Seq: b.seq, Key: fmt.Sprintf("k%d", b.seq), Type: "test", Schema: 1, Prev: b.prev, Body: []byte(`{}`)})
	b.prev = envelope.HashOf(p)
	return platform.Incoming{Topic: envelope.Topics{Tenant: tenant, Device: device}.Records(), Frame: envelope.Seal(b.rkey, p)}
}

// verify checks a device certificate as the broker would: issued by the
// platform's CA, for client authentication, named tenant/device, for the
// box's key.
func verify(t *testing.T, e *env, der []byte, b *box, cn string) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Cert())
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: e.now}); err != nil {
		t.Fatalf("certificate does not verify against the platform's CA: %v", err)
	}
	if c.Subject.CommonName != cn {
		t.Fatalf("CN %q, want %q", c.Subject.CommonName, cn)
	}
	if !b.key.PublicKey.Equal(c.PublicKey) {
		t.Fatal("certificate is not for the box's key")
	}
	if c.SerialNumber.BitLen() < 120 {
		t.Fatalf("serial %x is not random 128-bit", c.SerialNumber)
	}
	if d := c.NotAfter.Sub(e.now); d < 47*time.Hour || d > 48*time.Hour {
		t.Fatalf("valid for %v, want the configured 48h", d)
	}
	return c
}

func list(t *testing.T, e *env) []Device {
	t.Helper()
	l, err := e.svc.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestEnrolGoodCode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	code := e.code(t, "shop-1", "rue-de-la-paix", claim.RoleTill)
	b := newBox(t)
	resp, err := e.svc.Enrol(ctx, b.request(t, code, "till-7"))
	if err != nil {
		t.Fatal(err)
	}
	// What the box receives passes its own checks.
	p, _ := claim.Encode(resp)
	if _, err := claim.DecodeResponse(p); err != nil {
		t.Fatalf("the device would refuse the answer: %v", err)
	}
	c := verify(t, e, resp.Cert, b, "shop-1/till-7")
	if resp.Tenant != "shop-1" || resp.Site != "rue-de-la-paix" || resp.Role != "till" || resp.Device != "till-7" ||
		string(resp.CA) != string(e.ca.PEM()) || !e.plat.Equal(ed25519.PublicKey(resp.PlatformKey)) ||
		!slices.Equal(resp.Brokers, []string{"ssl://127.0.0.1:8883"}) {
		t.Fatalf("response: %+v", resp)
	}
	l := list(t, e)
	if len(l) != 1 || l[0].Tenant != "shop-1" || l[0].Device != "till-7" || l[0].Site != "rue-de-la-paix" || l[0].Role != "till" ||
		l[0].KeyKind != "file" || l[0].State != StateActive || l[0].Serial != c.SerialNumber.Text(16) || !l[0].NotAfter.Equal(c.NotAfter) {
		t.Fatalf("registry: %+v", l)
	}
	// The record key is the one the applier checks records with.
	k, err := e.store.DeviceKey(ctx, "shop-1", "till-7")
	if err != nil || !k.Equal(b.rkey.Public()) {
		t.Fatalf("record key: %v, %v", k, err)
	}
	a := &platform.Applier{Store: e.store, Instance: "t"}
	out, err := a.Apply(ctx, []platform.Incoming{b.record("shop-1", "till-7")})
	if err != nil || out.Applied != 1 {
		t.Fatalf("the enrolled box's record: %+v, %v", out, err)
	}
	// The code is stored by hash only.
	raw, _ := os.ReadFile(filepath.Join(e.dir, "platform.db"))
	wal, _ := os.ReadFile(filepath.Join(e.dir, "platform.db-wal"))
	for _, s := range []string{string(code), code.String()} {
		if bytes.Contains(raw, []byte(s)) || bytes.Contains(wal, []byte(s)) {
			t.Fatal("the code is in the store in clear")
		}
	}
}

// snapshot is what a refusal must leave as it was.
type snapshot struct {
	devices []Device
	keys    map[string]string
}

func snap(t *testing.T, e *env) snapshot {
	t.Helper()
	st, err := e.store.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, d := range st {
		k, _ := e.store.DeviceKey(context.Background(), d.Tenant, d.Device)
		keys[d.Tenant+"/"+d.Device] = string(k)
	}
	return snapshot{devices: list(t, e), keys: keys}
}

func TestEnrolRefusals(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		// prepare returns the request to refuse.
		prepare func(t *testing.T, e *env) *claim.Request
		want    string
	}{
		{"reused code", func(t *testing.T, e *env) *claim.Request {
			code := e.code(t, "shop-1", "s", "till")
			if _, err := e.svc.Enrol(ctx, newBox(t).request(t, code, "till-1")); err != nil {
				t.Fatal(err)
			}
			return newBox(t).request(t, code, "till-2")
		}, ReasonCodeUsed},
		{"reused code, same name", func(t *testing.T, e *env) *claim.Request {
			code := e.code(t, "shop-1", "s", "till")
			if _, err := e.svc.Enrol(ctx, newBox(t).request(t, code, "till-1")); err != nil {
				t.Fatal(err)
			}
			return newBox(t).request(t, code, "till-1")
		}, ReasonCodeUsed},
		{"expired code", func(t *testing.T, e *env) *claim.Request {
			code := e.code(t, "shop-1", "s", "till")
			e.now = e.now.Add(time.Hour)
			return newBox(t).request(t, code, "till-1")
		}, ReasonCodeExpired},
		{"unknown code", func(t *testing.T, e *env) *claim.Request {
			code, _ := claim.NewCode()
			return newBox(t).request(t, code, "till-1")
		}, ReasonUnknownCode},
		{"another platform's code", func(t *testing.T, e *env) *claim.Request {
			other := newEnv(t)
			return newBox(t).request(t, other.code(t, "shop-1", "s", "till"), "till-1")
		}, ReasonUnknownCode},
		{"another device's name", func(t *testing.T, e *env) *claim.Request {
			if _, err := e.svc.Enrol(ctx, newBox(t).request(t, e.code(t, "shop-1", "s", "till"), "till-1")); err != nil {
				t.Fatal(err)
			}
			return newBox(t).request(t, e.code(t, "shop-1", "s", "till"), "till-1")
		}, ReasonNameTaken},
		{"name enrolled by hand", func(t *testing.T, e *env) *claim.Request {
			pub, _, _ := ed25519.GenerateKey(nil)
			if err := e.store.Enrol(ctx, "shop-1", "till-1", pub); err != nil {
				t.Fatal(err)
			}
			return newBox(t).request(t, e.code(t, "shop-1", "s", "till"), "till-1")
		}, ReasonNameTaken},
		{"revoked name with a new code", func(t *testing.T, e *env) *claim.Request {
			b := newBox(t)
			if _, err := e.svc.Enrol(ctx, b.request(t, e.code(t, "shop-1", "s", "till"), "till-1")); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.Revoke(ctx, "shop-1", "till-1"); err != nil {
				t.Fatal(err)
			}
			// Even the same box: a revoked device comes back only by
			// replace.
			return b.request(t, e.code(t, "shop-1", "s", "till"), "till-1")
		}, ReasonNameTaken},
		{"replaced name with a new code", func(t *testing.T, e *env) *claim.Request {
			if _, err := e.svc.Enrol(ctx, newBox(t).request(t, e.code(t, "shop-1", "s", "till"), "till-1")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.svc.Replace(ctx, "shop-1", "till-1", time.Hour); err != nil {
				t.Fatal(err)
			}
			return newBox(t).request(t, e.code(t, "shop-1", "s", "till"), "till-1")
		}, ReasonNameTaken},
		{"replacement code for another name", func(t *testing.T, e *env) *claim.Request {
			if _, err := e.svc.Enrol(ctx, newBox(t).request(t, e.code(t, "shop-1", "s", "till"), "till-1")); err != nil {
				t.Fatal(err)
			}
			code, _, err := e.svc.Replace(ctx, "shop-1", "till-1", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return newBox(t).request(t, code, "till-2")
		}, ReasonOtherDevice},
		{"replacement code after revoke", func(t *testing.T, e *env) *claim.Request {
			if _, err := e.svc.Enrol(ctx, newBox(t).request(t, e.code(t, "shop-1", "s", "till"), "till-1")); err != nil {
				t.Fatal(err)
			}
			code, _, err := e.svc.Replace(ctx, "shop-1", "till-1", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.svc.Revoke(ctx, "shop-1", "till-1"); err != nil {
				t.Fatal(err)
			}
			return newBox(t).request(t, code, "till-1")
		}, ReasonCodeExpired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := tc.prepare(t, e)
			before := snap(t, e)
			resp, err := e.svc.Enrol(ctx, req)
			if got := Reason(err); got != tc.want {
				t.Fatalf("refusal %q (%v, %+v), want %q", got, err, resp, tc.want)
			}
			after := snap(t, e)
			if !reflect.DeepEqual(before.devices, after.devices) || len(before.keys) != len(after.keys) {
				t.Fatalf("a refusal changed the registry:\n%+v\n%+v", before, after)
			}
			for k, v := range before.keys {
				if after.keys[k] != v {
					t.Fatalf("a refusal changed %s's record key", k)
				}
			}
		})
	}
}

// A box whose answer was lost asks again with the same code and key: it
// gets a certificate again, and nothing else changes.
func TestEnrolRetrySameBox(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	code := e.code(t, "shop-1", "s", "counter")
	b := newBox(t)
	first, err := e.svc.Enrol(ctx, b.request(t, code, "desk-1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.Enrol(ctx, b.request(t, code, "desk-1"))
	if err != nil {
		t.Fatalf("the same box asking again: %v", err)
	}
	verify(t, e, again.Cert, b, "shop-1/desk-1")
	if again.Role != "counter" || string(again.Cert) == string(first.Cert) || len(list(t, e)) != 1 {
		t.Fatalf("retry: %+v", again)
	}
}

func crlSerials(t *testing.T, e *env) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, "crl.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "X509 CRL" {
		t.Fatalf("crl file: %q", b)
	}
	crl, err := x509.ParseRevocationList(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(e.ca.Cert()); err != nil {
		t.Fatalf("CRL not signed by the CA: %v", err)
	}
	var out []string
	for _, r := range crl.RevokedCertificateEntries {
		out = append(out, r.SerialNumber.Text(16))
	}
	return out
}

func applyOne(t *testing.T, a *platform.Applier, in platform.Incoming) *platform.Outcome {
	t.Helper()
	out, err := a.Apply(context.Background(), []platform.Incoming{in})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func rejected(out *platform.Outcome) string {
	for _, a := range out.Acks {
		for _, r := range a.Rejects {
			return r.Reason
		}
	}
	return ""
}

func TestRevoke(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := newBox(t)
	resp, err := e.svc.Enrol(ctx, b.request(t, e.code(t, "shop-1", "s", "till"), "till-1"))
	if err != nil {
		t.Fatal(err)
	}
	// A renewed certificate is revoked with the first.
	csr := b.csr(t)
	iss, err := e.svc.Renew(ctx, "shop-1", "till-1", &claim.Renewal{V: 1, CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	a := &platform.Applier{Store: e.store, Instance: "t"}
	if out := applyOne(t, a, b.record("shop-1", "till-1")); out.Applied != 1 {
		t.Fatalf("before revoke: %+v", out)
	}
	if err := e.svc.Revoke(ctx, "shop-1", "till-1"); err != nil {
		t.Fatal(err)
	}
	first, _ := x509.ParseCertificate(resp.Cert)
	second, _ := x509.ParseCertificate(iss.Cert)
	got := crlSerials(t, e)
	if !slices.Contains(got, first.SerialNumber.Text(16)) || !slices.Contains(got, second.SerialNumber.Text(16)) || len(got) != 2 {
		t.Fatalf("CRL %v, want both certificates of the device", got)
	}
	// The applier had the key cached: the store's state still wins.
	out := applyOne(t, a, b.record("shop-1", "till-1"))
	if out.Applied != 0 || rejected(out) != "device revoked" {
		t.Fatalf("a revoked device's record: %+v", out)
	}
	if l := list(t, e); l[0].State != StateRevoked {
		t.Fatalf("registry: %+v", l)
	}
	if _, err := e.svc.Renew(ctx, "shop-1", "till-1", &claim.Renewal{V: 1, CSR: b.csr(t)}); Reason(err) != ReasonRevoked {
		t.Fatalf("renewal of a revoked device: %v", err)
	}
	if err := e.svc.Revoke(ctx, "shop-1", "nobody"); err == nil {
		t.Fatal("revoked a device never enrolled")
	}
}

// A device enrolled by hand (enrol --key) can be revoked too.
func TestRevokeHandEnrolled(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := newBox(t)
	if err := e.store.Enrol(ctx, "t", "d", b.rkey.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Revoke(ctx, "t", "d"); err != nil {
		t.Fatal(err)
	}
	a := &platform.Applier{Store: e.store, Instance: "t"}
	if out := applyOne(t, a, b.record("t", "d")); rejected(out) != "device revoked" {
		t.Fatalf("hand-enrolled, revoked: %+v", out)
	}
	if _, _, err := e.svc.Replace(ctx, "t", "d", time.Hour); err == nil {
		t.Fatal("replaced a device without a binding")
	}
}

func TestReplace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old := newBox(t)
	resp, err := e.svc.Enrol(ctx, old.request(t, e.code(t, "shop-1", "north", "counter"), "desk-2"))
	if err != nil {
		t.Fatal(err)
	}
	oldCert, _ := x509.ParseCertificate(resp.Cert)
	a := &platform.Applier{Store: e.store, Instance: "t"}
	if out := applyOne(t, a, old.record("shop-1", "desk-2")); out.Applied != 1 {
		t.Fatalf("old box before: %+v", out)
	}
	code, exp, err := e.svc.Replace(ctx, "shop-1", "desk-2", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(e.now.Add(2 * time.Hour)) {
		t.Fatalf("expiry %v", exp)
	}
	// The old box is dead at once: its certificate in the CRL, its
	// records refused, before the new box has come.
	if got := crlSerials(t, e); !slices.Equal(got, []string{oldCert.SerialNumber.Text(16)}) {
		t.Fatalf("CRL %v, want the old serial", got)
	}
	if out := applyOne(t, a, old.record("shop-1", "desk-2")); rejected(out) != "device revoked" {
		t.Fatalf("old box while replaced: %+v", out)
	}
	if l := list(t, e); l[0].State != StateReplaced {
		t.Fatalf("registry: %+v", l)
	}
	nb := newBox(t)
	req := nb.request(t, code, "desk-2")
	req.KeyKind = "tpm"
	resp2, err := e.svc.Enrol(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	newCert := verify(t, e, resp2.Cert, nb, "shop-1/desk-2")
	if resp2.Tenant != "shop-1" || resp2.Site != "north" || resp2.Role != "counter" {
		t.Fatalf("binding not kept: %+v", resp2)
	}
	l := list(t, e)
	if len(l) != 1 || l[0].State != StateActive || l[0].KeyKind != "tpm" || l[0].Site != "north" || l[0].Serial != newCert.SerialNumber.Text(16) {
		t.Fatalf("registry after replacement: %+v", l)
	}
	if got := crlSerials(t, e); !slices.Equal(got, []string{oldCert.SerialNumber.Text(16)}) {
		t.Fatalf("CRL %v after the new box came", got)
	}
	// The old record key is dead, whether or not the applier cached it.
	if out := applyOne(t, a, old.record("shop-1", "desk-2")); out.Applied != 0 || rejected(out) != "device revoked" {
		t.Fatalf("old key through a warm cache: %+v", out)
	}
	cold := &platform.Applier{Store: e.store, Instance: "t2"}
	if out := applyOne(t, cold, old.record("shop-1", "desk-2")); out.Applied != 0 || out.Rejected != 1 {
		t.Fatalf("old key through a cold cache: %+v", out)
	}
	// The old box's TLS key renews nothing; the new one's does.
	if _, err := e.svc.Renew(ctx, "shop-1", "desk-2", &claim.Renewal{V: 1, CSR: old.csr(t)}); Reason(err) != ReasonKeyDiffers {
		t.Fatalf("old key renewing: %v", err)
	}
	if _, err := e.svc.Renew(ctx, "shop-1", "desk-2", &claim.Renewal{V: 1, CSR: nb.csr(t)}); err != nil {
		t.Fatalf("new box renewing: %v", err)
	}
	// The replacement code is used now.
	if _, err := e.svc.Enrol(ctx, newBox(t).request(t, code, "desk-2")); Reason(err) != ReasonCodeUsed {
		t.Fatalf("replacement code twice: %v", err)
	}
}

func TestRenew(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := newBox(t)
	resp, err := e.svc.Enrol(ctx, b.request(t, e.code(t, "shop-1", "s", "till"), "till-1"))
	if err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(30 * time.Hour)
	iss, err := e.svc.Renew(ctx, "shop-1", "till-1", &claim.Renewal{V: 1, CSR: b.csr(t)})
	if err != nil {
		t.Fatal(err)
	}
	c := verify(t, e, iss.Cert, b, "shop-1/till-1")
	old, _ := x509.ParseCertificate(resp.Cert)
	if !c.NotAfter.After(old.NotAfter) || c.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Fatal("renewal did not give a later certificate")
	}
	l := list(t, e)
	if l[0].Serial != c.SerialNumber.Text(16) || l[0].RenewedAt == nil || !l[0].NotAfter.Equal(c.NotAfter) {
		t.Fatalf("registry after renewal: %+v", l)
	}
	for _, tc := range []struct {
		name, tenant, device string
		csr                  []byte
		want                 string
	}{
		{"another key", "shop-1", "till-1", newBox(t).csr(t), ReasonKeyDiffers},
		{"unknown device", "shop-1", "till-9", b.csr(t), ReasonNotEnrolled},
		{"another tenant", "shop-2", "till-1", b.csr(t), ReasonNotEnrolled},
		{"garbage csr", "shop-1", "till-1", []byte("not a csr"), ReasonBadRequest},
	} {
		if _, err := e.svc.Renew(ctx, tc.tenant, tc.device, &claim.Renewal{V: 1, CSR: tc.csr}); Reason(err) != tc.want {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if l2 := list(t, e); !reflect.DeepEqual(l, l2) {
		t.Fatalf("a refused renewal changed the registry: %+v", l2)
	}
}

func TestNewCodeRefusesBadBinding(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ tenant, site, role string }{
		{"", "s", "till"}, {"shop 1", "s", "till"}, {"provision", "s", "till"}, {"shop", "", "till"},
		{"shop", "s/x", "till"}, {"shop", "s", "cashier"}, {"shop", "s", ""}, {"shop+", "s", "till"},
	} {
		if _, _, err := e.svc.NewCode(context.Background(), tc.tenant, tc.site, tc.role, time.Hour); err == nil {
			t.Errorf("code for %+v", tc)
		}
	}
	if _, _, err := e.svc.NewCode(context.Background(), "shop", "s", "till", 0); err == nil {
		t.Error("code that never lived")
	}
}

func TestCAPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	a, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.PEM()) != string(b.PEM()) {
		t.Fatal("a second start made another CA")
	}
	st, err := os.Stat(filepath.Join(dir, "ca.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("ca.key: %v, %v", st, err)
	}
	c := a.Cert()
	if !c.IsCA || c.PublicKeyAlgorithm != x509.ECDSA || c.NotAfter.Before(time.Now().Add(10*365*24*time.Hour)) {
		t.Fatalf("CA certificate: %+v", c)
	}
	// A key whose certificate was lost (a first start cut short) is
	// certified again, not replaced.
	os.Remove(filepath.Join(dir, "ca.pem"))
	d, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Cert().PublicKey.(*ecdsa.PublicKey).Equal(c.PublicKey) {
		t.Fatal("the key changed")
	}
	// A certificate of another key is refused rather than used.
	other := filepath.Join(t.TempDir(), "ca")
	if _, err := LoadOrCreateCA(other); err != nil {
		t.Fatal(err)
	}
	pemOther, _ := os.ReadFile(filepath.Join(other, "ca.pem"))
	os.WriteFile(filepath.Join(dir, "ca.pem"), pemOther, 0o644)
	if _, err := LoadOrCreateCA(dir); err == nil {
		t.Fatal("loaded a CA whose certificate is for another key")
	}
	os.WriteFile(filepath.Join(dir, "ca.key"), []byte("garbage"), 0o600)
	if _, err := LoadOrCreateCA(dir); err == nil {
		t.Fatal("loaded a garbage key")
	}
}

func TestServerAndClientCerts(t *testing.T) {
	e := newEnv(t)
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Cert())
	certPEM, keyPEM, err := e.ca.IssueServer([]string{"127.0.0.1", "broker.example"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	c, _ := x509.ParseCertificate(blk.Bytes)
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "broker.example"}); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if kb, _ := pem.Decode(keyPEM); kb == nil || kb.Type != "PRIVATE KEY" {
		t.Fatal("server key not PKCS#8 PEM")
	}
	certPEM, _, err = e.ca.IssueClient("guichet-platform-p1", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	blk, _ = pem.Decode(certPEM)
	c, _ = x509.ParseCertificate(blk.Bytes)
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil || c.Subject.CommonName != "guichet-platform-p1" {
		t.Fatalf("client certificate: %v %s", err, c.Subject.CommonName)
	}
}

// A code that expired unused is kept a month, to say "expired", then
// pruned; a used one is kept.
func TestExpiredCodesPruned(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stale := e.code(t, "shop-1", "s", "till")
	used := e.code(t, "shop-1", "s", "till")
	if _, err := e.svc.Enrol(ctx, newBox(t).request(t, used, "till-1")); err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(20 * 24 * time.Hour)
	e.code(t, "shop-1", "s", "till")
	if _, err := e.svc.Enrol(ctx, newBox(t).request(t, stale, "till-2")); Reason(err) != ReasonCodeExpired {
		t.Fatalf("after 20 days: %v", err)
	}
	e.now = e.now.Add(20 * 24 * time.Hour)
	e.code(t, "shop-1", "s", "till")
	if _, err := e.svc.Enrol(ctx, newBox(t).request(t, stale, "till-2")); Reason(err) != ReasonUnknownCode {
		t.Fatalf("after 40 days: %v", err)
	}
	if _, err := e.svc.Enrol(ctx, newBox(t).request(t, used, "till-3")); Reason(err) != ReasonCodeUsed {
		t.Fatalf("used code after 40 days: %v", err)
	}
}

func TestKeepCRL(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.svc.KeepCRL(ctx, 10*time.Millisecond) }()
	path := filepath.Join(e.dir, "crl.pem")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no CRL written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if got := crlSerials(t, e); len(got) != 0 {
		t.Fatalf("CRL %v, want empty", got)
	}
}
