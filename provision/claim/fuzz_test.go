package claim

import (
	"testing"
)

// The decoders take what any unenrolled client may publish: they must never
// panic, and what they accept must be re-encodable and accepted again.
func FuzzDecodeRequest(f *testing.F) {
	p, _ := Encode(goodRequest(f))
	f.Add(p)
	f.Add([]byte(`{"v":1,"code":"0000-0000-0000-0000","device":"x","csr":"","record_key":"","key_kind":"tpm"}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := DecodeRequest(p)
		if err != nil {
			return
		}
		again, err := Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeRequest(again); err != nil {
			t.Fatalf("accepted once, refused re-encoded: %v", err)
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	p, _ := Encode(goodResponse())
	f.Add(p)
	f.Add([]byte(`{"v":1,"error":"expired"}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		if r, err := DecodeResponse(p); err == nil && (r.Tenant == "" || len(r.Brokers) == 0) {
			t.Fatalf("accepted an incomplete response: %+v", r)
		}
		_, _ = DecodeRenewal(p)
		_, _ = DecodeIssued(p)
	})
}

func FuzzParseCode(f *testing.F) {
	f.Add("7KQ2-M9XD-4HTR-B0WZ")
	f.Add("ilo0 0000 1111 2222")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCode(s)
		if err != nil {
			return
		}
		again, err := ParseCode(c.String())
		if err != nil || again != c {
			t.Fatalf("%q -> %q -> %q, %v", s, c, again, err)
		}
	})
}

func FuzzParseTopics(f *testing.F) {
	f.Add("guichet/v1/provision/prov-00112233445566778899aabbccddeeff/req", "shop/till")
	f.Fuzz(func(t *testing.T, topic, cn string) {
		if cid, err := ParseRequestTopic(topic); err == nil && RequestTopic(cid) != topic {
			t.Fatalf("%q -> %q", topic, cid)
		}
		if tn, d, err := ParseCommonName(cn); err == nil && CommonName(tn, d) != cn {
			t.Fatalf("%q -> %q %q", cn, tn, d)
		}
	})
}
