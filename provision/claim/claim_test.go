package claim

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
)

func csr(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "box"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func p256(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCodeRoundTripAndTyping(t *testing.T) {
	c, err := NewCode()
	if err != nil {
		t.Fatal(err)
	}
	for _, typed := range []string{c.String(), string(c), strings.ToLower(c.String()), " " + strings.ReplaceAll(c.String(), "-", " ") + " "} {
		got, err := ParseCode(typed)
		if err != nil || got != c {
			t.Errorf("ParseCode(%q) = %q, %v; want %q", typed, got, err, c)
		}
	}
	if got, err := ParseCode("iloo-0000-1111-2222"); err != nil || got != "1100000011112222" {
		t.Errorf("look-alike letters: %q, %v", got, err)
	}
	if c.Hash() == Code("0000000000000000").Hash() || len(c.Hash()) != 64 {
		t.Error("hash does not tell codes apart")
	}
}

func TestParseCodeRefuses(t *testing.T) {
	for _, s := range []string{"", "ABCD", "ABCD-EFGH-JKMN-PQRS-T", "ABCD-EFGH-JKMN-PQRU", "ABCD-EFGH-JKMN-PQR\x00", "ÄBCD-EFGH-JKMN-PQRS", strings.Repeat("A", 65), "ABCD+EFGH+JKMN+PQRS"} {
		if _, err := ParseCode(s); err == nil {
			t.Errorf("ParseCode(%q) accepted", s)
		}
	}
}

func TestTopics(t *testing.T) {
	cid, err := NewClientID()
	if err != nil || !ValidClientID(cid) {
		t.Fatalf("NewClientID = %q, %v", cid, err)
	}
	got, err := ParseRequestTopic(RequestTopic(cid))
	if err != nil || got != cid {
		t.Fatalf("ParseRequestTopic = %q, %v", got, err)
	}
	for _, topic := range []string{
		ResponseTopic(cid), "guichet/v1/provision/+/req", "guichet/v1/provision/#", "guichet/v1/t/d/up/rec",
		"guichet/v1/provision/prov-ZZ/req", "guichet/v1/provision/" + cid + "/x/req", "",
		"guichet/v1/provision/prov-0123456789ABCDEF0123456789ABCDEF/req",
	} {
		if _, err := ParseRequestTopic(topic); err == nil {
			t.Errorf("ParseRequestTopic(%q) accepted", topic)
		}
	}
	if RenewTopic("t", "d") != "guichet/v1/t/d/up/renew" || CertTopic("t", "d") != "guichet/v1/t/d/down/cert" {
		t.Error("renewal topics moved out of the device's subtree")
	}
}

func TestCommonName(t *testing.T) {
	tn, d, err := ParseCommonName(CommonName("shop-1", "till-7"))
	if err != nil || tn != "shop-1" || d != "till-7" {
		t.Fatalf("round trip: %q %q %v", tn, d, err)
	}
	for _, cn := range []string{"", "till", "a/b/c", "+/d", "t/#", "/d", "t/", "t/d\x00"} {
		if _, _, err := ParseCommonName(cn); err == nil {
			t.Errorf("ParseCommonName(%q) accepted", cn)
		}
	}
}

func TestParseCSR(t *testing.T) {
	if _, err := ParseCSR(csr(t, p256(t))); err != nil {
		t.Fatalf("good csr: %v", err)
	}
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tampered := csr(t, p256(t))
	tampered[len(tampered)-3] ^= 0xff
	for name, der := range map[string][]byte{
		"rsa": csr(t, rk), "ed25519": csr(t, ek), "p384": csr(t, k384), "tampered": tampered,
		"empty": nil, "garbage": []byte("not a csr"), "huge": make([]byte, MaxCSR+1),
	} {
		if _, err := ParseCSR(der); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func goodRequest(t testing.TB) Request {
	c, _ := NewCode()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	return Request{V: Version, Code: c, Device: "till-1", CSR: csr(t, p256(t)), RecordKey: pub, KeyKind: "tpm"}
}

func TestDecodeRequest(t *testing.T) {
	good := goodRequest(t)
	p, err := Encode(good)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeRequest(p)
	if err != nil || r.Device != "till-1" || r.Code != good.Code {
		t.Fatalf("good request: %+v, %v", r, err)
	}
	bad := map[string]func(*Request){
		"version":     func(r *Request) { r.V = 2 },
		"code":        func(r *Request) { r.Code = "ABC" },
		"device":      func(r *Request) { r.Device = "till/other" },
		"device+":     func(r *Request) { r.Device = "+" },
		"no device":   func(r *Request) { r.Device = "" },
		"csr":         func(r *Request) { r.CSR = []byte("x") },
		"record key":  func(r *Request) { r.RecordKey = r.RecordKey[:31] },
		"key kind":    func(r *Request) { r.KeyKind = "hsm" },
		"no key kind": func(r *Request) { r.KeyKind = "" },
	}
	for name, spoil := range bad {
		r := goodRequest(t)
		spoil(&r)
		p, _ := Encode(r)
		if _, err := DecodeRequest(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for name, p := range map[string]string{
		"unknown field": strings.Replace(string(p), `"v":1`, `"v":1,"admin":true`, 1),
		"trailing":      string(p) + "{}",
		"not json":      "\x00\xff",
		"array":         "[]",
		"huge":          `{"v":1,"device":"` + strings.Repeat("a", MaxMessage) + `"}`,
	} {
		if _, err := DecodeRequest([]byte(p)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func goodResponse() Response {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	return Response{V: Version, Tenant: "shop", Site: "s1", Role: RoleTill, Device: "till-1", Cert: []byte{1}, CA: []byte{2}, PlatformKey: pub, Brokers: []string{"ssl://127.0.0.1:8883"}}
}

func TestDecodeResponse(t *testing.T) {
	p, _ := Encode(goodResponse())
	if _, err := DecodeResponse(p); err != nil {
		t.Fatalf("good response: %v", err)
	}
	p, _ = Encode(Response{V: Version, Error: "code already used"})
	_, err := DecodeResponse(p)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Reason != "code already used" {
		t.Fatalf("refusal: %v", err)
	}
	bad := map[string]func(*Response){
		"role":        func(r *Response) { r.Role = "admin" },
		"tenant":      func(r *Response) { r.Tenant = "a/b" },
		"no cert":     func(r *Response) { r.Cert = nil },
		"no ca":       func(r *Response) { r.CA = nil },
		"key":         func(r *Response) { r.PlatformKey = []byte{1} },
		"no brokers":  func(r *Response) { r.Brokers = nil },
		"plain":       func(r *Response) { r.Brokers = []string{"tcp://10.0.0.1:1883"} },
		"broker junk": func(r *Response) { r.Brokers = []string{"ssl://"} },
		"version":     func(r *Response) { r.V = 0 },
	}
	for name, spoil := range bad {
		r := goodResponse()
		spoil(&r)
		p, _ := Encode(r)
		if _, err := DecodeResponse(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDecodeRenewalAndIssued(t *testing.T) {
	p, _ := Encode(Renewal{V: Version, CSR: csr(t, p256(t))})
	if _, err := DecodeRenewal(p); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{`{"v":1}`, `{"v":1,"csr":"AAAA"}`, `{"v":3}`, `{"v":1,"csr":null,"x":1}`} {
		if _, err := DecodeRenewal([]byte(p)); err == nil {
			t.Errorf("renewal %s accepted", p)
		}
	}
	if _, err := DecodeIssued([]byte(`{"v":1,"cert":"AQ=="}`)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{`{"v":1}`, `{"v":2,"cert":"AQ=="}`, `{"v":1,"error":"revoked"}`} {
		if _, err := DecodeIssued([]byte(p)); err == nil {
			t.Errorf("issued %s accepted", p)
		}
	}
}
