package provision

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/provision/provisiontest"
)

func enrolOptions(t *testing.T, b *provisiontest.Broker, ca *provisiontest.CA, p *provisiontest.Platform) Options {
	return Options{Broker: b.ProvisionURL(), CA: ca.Pool(), Code: strings.ToLower(p.Code.String()), Device: "till-7",
		Key: newKey(t), RecordKey: recordKey(t), StateDir: t.TempDir(), Timeout: 20 * time.Second}
}

func TestEnrol(t *testing.T) {
	ca := provisiontest.NewCA(t, "platform CA")
	b := provisiontest.StartBroker(t, ca)
	p := provisiontest.StartPlatform(t, b, ca)
	o := enrolOptions(t, b, ca, p)
	e, err := Enrol(ctxT(t), o)
	if err != nil {
		t.Fatalf("enrol: %v\n%s", err, b.Log())
	}
	if e.Tenant != "shop1" || e.Device != "till-7" || e.Site != "rue-haute" || e.Role != "till" || e.KeyKind != "file" ||
		e.Cert.Subject.CommonName != "shop1/till-7" || !e.PlatformKey.Equal(p.Key) || len(e.Brokers) != 1 || e.Brokers[0] != b.URL() {
		t.Fatalf("enrolment: %+v", e)
	}
	got, err := LoadEnrolment(o.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != e.String() || !got.Cert.Equal(e.Cert) || string(got.CA) != string(e.CA) || !got.PlatformKey.Equal(e.PlatformKey) ||
		got.Brokers[0] != e.Brokers[0] || got.KeyKind != "file" || !got.At.Equal(e.At.Truncate(0).UTC()) && got.At.Sub(e.At).Abs() > time.Second {
		t.Fatalf("read back %+v, wrote %+v", got, e)
	}
	for _, f := range []string{CertFile, CAFile, PlatformKeyFile, BindingFile} {
		if _, err := os.Stat(filepath.Join(o.StateDir, Dir, f)); err != nil {
			t.Error(err)
		}
	}
	if filepath.Join(Dir, BindingFile) != "enrolment/binding.json" {
		t.Fatal("the binding moved away from config.EnrolledMarker")
	}

	// The same box again: refused without --force, whatever the code.
	if _, err := Enrol(ctxT(t), o); !errors.Is(err, ErrEnrolled) {
		t.Fatalf("second enrolment: %v", err)
	}
	// With --force and a new code (device replace), it enrols again.
	code, _ := claim.NewCode()
	p.Set(func(p *provisiontest.Platform) { p.Code, p.Site = code, "rue-basse" })
	o.Code, o.Force = code.String(), true
	if e, err := Enrol(ctxT(t), o); err != nil || e.Site != "rue-basse" {
		t.Fatalf("forced enrolment: %v", err)
	}
	if got, err := LoadEnrolment(o.StateDir); err != nil || got.Site != "rue-basse" {
		t.Fatalf("after forced enrolment: %+v, %v", got, err)
	}
}

// TestEnrolRefusals: what the platform refuses or answers wrongly leaves
// the box unenrolled, with a reason that says what happened.
func TestEnrolRefusals(t *testing.T) {
	ca := provisiontest.NewCA(t, "platform CA")
	other := provisiontest.NewCA(t, "another CA")
	b := provisiontest.StartBroker(t, ca)
	p := provisiontest.StartPlatform(t, b, ca)
	cases := []struct {
		name   string
		code   string
		answer func(req *claim.Request, r *claim.Response)
		want   error // nil: a refusal by the platform, *claim.RefusedError
		msg    string
	}{
		{name: "unknown code", code: "0000-0000-0000-0000", msg: "refused by the platform: unknown or used code"},
		{name: "certificate for another key", answer: func(_ *claim.Request, r *claim.Response) {
			r.Cert = ca.Issue(t, newKey(t).Public(), "shop1/till-7", time.Now(), time.Hour)
		}, want: ErrBadCertificate, msg: "another key"},
		{name: "certificate from another CA", answer: func(req *claim.Request, r *claim.Response) {
			csr, _ := claim.ParseCSR(req.CSR)
			r.Cert = other.Issue(t, csr.PublicKey, "shop1/till-7", time.Now(), time.Hour)
		}, want: ErrBadCertificate, msg: "unknown authority"},
		{name: "certificate for another device", answer: func(req *claim.Request, r *claim.Response) {
			csr, _ := claim.ParseCSR(req.CSR)
			r.Cert = ca.Issue(t, csr.PublicKey, "shop1/till-8", time.Now(), time.Hour)
		}, want: ErrBadCertificate, msg: "shop1/till-8"},
		{name: "certificate for another tenant", answer: func(req *claim.Request, r *claim.Response) {
			csr, _ := claim.ParseCSR(req.CSR)
			r.Cert = ca.Issue(t, csr.PublicKey, "shop2/till-7", time.Now(), time.Hour)
		}, want: ErrBadCertificate, msg: "shop2/till-7"},
		{name: "expired certificate", answer: func(req *claim.Request, r *claim.Response) {
			csr, _ := claim.ParseCSR(req.CSR)
			r.Cert = ca.Issue(t, csr.PublicKey, "shop1/till-7", time.Now().Add(-2*time.Hour), time.Hour)
		}, want: ErrBadCertificate, msg: "expired"},
		{name: "CA bundle that is not one", answer: func(_ *claim.Request, r *claim.Response) {
			r.CA = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
		}, want: ErrBadCertificate, msg: "CA bundle"},
		{name: "leaf in the CA bundle", answer: func(req *claim.Request, r *claim.Response) {
			r.CA = certPEMBytes(r.Cert)
		}, want: ErrBadCertificate, msg: "not a CA"},
		{name: "plain broker", answer: func(_ *claim.Request, r *claim.Response) {
			r.Brokers = []string{"tcp://127.0.0.1:1883"}
		}, want: errAny, msg: "TLS address"},
		{name: "bad role", answer: func(_ *claim.Request, r *claim.Response) {
			r.Role = "admin"
		}, want: errAny, msg: "role"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p.Set(func(p *provisiontest.Platform) { p.Answer = tc.answer })
			o := enrolOptions(t, b, ca, p)
			if tc.code != "" {
				o.Code = tc.code
			}
			_, err := Enrol(ctxT(t), o)
			if err == nil {
				t.Fatal("accepted")
			}
			var refused *claim.RefusedError
			switch {
			case tc.want == nil && !errors.As(err, &refused):
				t.Fatalf("error %v, want a refusal", err)
			case tc.want != nil && tc.want != errAny && !errors.Is(err, tc.want):
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not say %q", err, tc.msg)
			}
			if _, err := LoadEnrolment(o.StateDir); !errors.Is(err, ErrNotEnrolled) {
				t.Fatalf("something was written: %v", err)
			}
		})
	}
}

// errAny stands for any error but a refusal in the tables.
var errAny = errors.New("any")

func certPEMBytes(der []byte) []byte {
	c, _ := x509.ParseCertificate(der)
	return certPEM(c)
}

// TestEnrolPlatformLate: the first request is lost (a platform not yet
// subscribed: the broker drops it); the box asks again and is enrolled.
func TestEnrolPlatformLate(t *testing.T) {
	ca := provisiontest.NewCA(t, "platform CA")
	b := provisiontest.StartBroker(t, ca)
	p := provisiontest.StartPlatform(t, b, ca)
	p.Set(func(p *provisiontest.Platform) { p.Deaf = 1 })
	o := enrolOptions(t, b, ca, p)
	o.Resend = 200 * time.Millisecond
	if _, err := Enrol(ctxT(t), o); err != nil {
		t.Fatalf("enrol after a lost request: %v\n%s", err, b.Log())
	}
	p.Set(func(p *provisiontest.Platform) {
		if p.Requests < 2 {
			t.Errorf("the platform saw %d requests, want a repeat", p.Requests)
		}
	})
}

// TestEnrolNoAnswer: the broker takes the request but no platform
// listens; the technician is told so.
func TestEnrolNoAnswer(t *testing.T) {
	ca := provisiontest.NewCA(t, "platform CA")
	b := provisiontest.StartBroker(t, ca)
	o := Options{Broker: b.ProvisionURL(), CA: ca.Pool(), Code: "7KQ2-M9XD-4HTR-B0WZ", Device: "till-7",
		Key: newKey(t), RecordKey: recordKey(t), StateDir: t.TempDir(), Timeout: time.Second}
	_, err := Enrol(ctxT(t), o)
	if !errors.Is(err, ErrNoAnswer) || !strings.Contains(err.Error(), "is the platform running") {
		t.Fatalf("no platform: %v", err)
	}
	// A broker whose certificate is from another CA is not talked to.
	o.CA = provisiontest.NewCA(t, "another CA").Pool()
	if _, err := Enrol(ctxT(t), o); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted broker: %v", err)
	}
}

func TestEnrolOptions(t *testing.T) {
	good := Options{Broker: "ssl://127.0.0.1:1", Code: "7KQ2-M9XD-4HTR-B0WZ", Device: "till-7",
		Key: newKey(t), RecordKey: recordKey(t), StateDir: t.TempDir()}
	cases := map[string]func(o *Options){
		"plain broker":       func(o *Options) { o.Broker = "tcp://127.0.0.1:1" },
		"http broker":        func(o *Options) { o.Broker = "http://127.0.0.1:1" },
		"no broker":          func(o *Options) { o.Broker = "" },
		"short code":         func(o *Options) { o.Code = "7KQ2-M9XD" },
		"code with symbols":  func(o *Options) { o.Code = "7KQ2-M9XD-4HTR-B0W#" },
		"device with slash":  func(o *Options) { o.Device = "shop2/till" },
		"device with plus":   func(o *Options) { o.Device = "till+" },
		"empty device":       func(o *Options) { o.Device = "" },
		"no key":             func(o *Options) { o.Key = nil },
		"no record key":      func(o *Options) { o.RecordKey = nil },
		"no state directory": func(o *Options) { o.StateDir = "" },
	}
	for name, f := range cases {
		o := good
		f(&o)
		if _, err := Enrol(ctxT(t), o); err == nil || !strings.HasPrefix(err.Error(), "provision: ") || strings.Contains(err.Error(), "connect") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
