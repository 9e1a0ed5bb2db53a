package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func testKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func goodRecord() Record {
	return Record{Tenant: "t1", Device: "d1", Seq: 7, Key: "pay-0007", Type: "payment.auth", Schema: 1,
		Wall: 1700000000000, Boot: 2, Mono: 12345, Prev: HashOf([]byte("six")), Body: json.RawMessage(`{"amount":"12.34"}`)}
}

func TestSealOpenRoundTrip(t *testing.T) {
	pub, priv := testKey(t)
	payload, err := json.Marshal(goodRecord())
	if err != nil {
		t.Fatal(err)
	}
	frame := Seal(priv, payload)
	got, err := Open(pub, frame)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("payload changed in transit")
	}
	r, err := DecodeRecord(got)
	if err != nil {
		t.Fatal(err)
	}
	if want := goodRecord(); r.Seq != want.Seq || r.Prev != want.Prev || string(r.Body) != string(want.Body) {
		t.Fatalf("record %+v, want %+v", r, want)
	}
}

func TestSplitHostile(t *testing.T) {
	pub, priv := testKey(t)
	good := Seal(priv, []byte(`{"a":1}`))
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, ErrShort},
		{"header only", good[:headerLen], ErrShort},
		{"truncated signature", good[:len(good)-1], ErrLength},
		{"shorter than header and signature", good[:headerLen+ed25519.SignatureSize-1], ErrShort},
		{"bad magic", mut(func(b []byte) []byte { b[0] = 'X'; return b }), ErrMagic},
		{"lower-case magic", mut(func(b []byte) []byte { b[1] = 'q'; return b }), ErrMagic},
		{"version 0", mut(func(b []byte) []byte { b[2] = 0; return b }), ErrVersion},
		{"version 2", mut(func(b []byte) []byte { b[2] = 2; return b }), ErrVersion},
		{"length too small", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[3:], 1); return b }), ErrLength},
		{"length too large", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[3:], 1000); return b }), ErrLength},
		{"length 2^32-1", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[3:], 0xffffffff); return b }), ErrLength},
		{"trailing byte", append(bytes.Clone(good), 0), ErrLength},
		{"oversized", append(bytes.Clone(good), make([]byte, MaxFrame)...), ErrTooLarge},
		{"10 MB of junk", bytes.Repeat([]byte("GQ\x01junk"), 10<<20/7), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Split(tt.frame)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Split: %v, want %v", err, tt.want)
			}
			if _, err := Open(pub, tt.frame); !errors.Is(err, tt.want) {
				t.Fatalf("Open: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestOpenBadSignature(t *testing.T) {
	pub, priv := testKey(t)
	other, _ := testKey(t)
	good := Seal(priv, []byte(`{"a":1}`))
	flipSig := bytes.Clone(good)
	flipSig[len(flipSig)-1] ^= 1
	flipPayload := bytes.Clone(good)
	flipPayload[headerLen] ^= 1
	zeroSig := bytes.Clone(good)
	copy(zeroSig[len(zeroSig)-ed25519.SignatureSize:], make([]byte, ed25519.SignatureSize))
	tests := []struct {
		name  string
		key   ed25519.PublicKey
		frame []byte
	}{
		{"flipped signature bit", pub, flipSig},
		{"flipped payload bit", pub, flipPayload},
		{"zero signature", pub, zeroSig},
		{"another device's key", other, good},
		{"no key", nil, good},
		{"short key", pub[:16], good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(tt.key, tt.frame); !errors.Is(err, ErrSignature) {
				t.Fatalf("Open: %v, want %v", err, ErrSignature)
			}
		})
	}
	if _, err := Open(pub, good); err != nil {
		t.Fatalf("the unaltered frame: %v", err)
	}
}

// recordJSON returns the good record as JSON with field k set to v (raw
// JSON), or removed when v is "".
func recordJSON(t *testing.T, k, v string) []byte {
	b, err := json.Marshal(goodRecord())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if v == "" {
		delete(m, k)
	} else {
		m[k] = json.RawMessage(v)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeRecordHostile(t *testing.T) {
	good := recordJSON(t, "seq", "7")
	if _, err := DecodeRecord(good); err != nil {
		t.Fatalf("good record refused: %v", err)
	}
	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"empty", nil, "EOF"},
		{"not JSON", []byte("GQ\x01garbage"), "invalid character"},
		{"truncated", good[:len(good)/2], "unexpected EOF"},
		{"array", []byte(`[1,2,3]`), "cannot unmarshal array"},
		{"null", []byte(`null`), "bad tenant"},
		{"trailing object", append(bytes.Clone(good), []byte(`{}`)...), "trailing data"},
		{"unknown field", recordJSON(t, "amount", `"100"`), "unknown field"},
		{"no tenant", recordJSON(t, "tenant", ""), "bad tenant"},
		{"tenant with slash", recordJSON(t, "tenant", `"t1/x"`), "bad tenant"},
		{"tenant with wildcard", recordJSON(t, "tenant", `"+"`), "bad tenant"},
		{"tenant too long", recordJSON(t, "tenant", `"`+strings.Repeat("t", MaxID+1)+`"`), "bad tenant"},
		{"device with NUL", recordJSON(t, "device", `"d\u0000"`), "bad device"},
		{"seq zero", recordJSON(t, "seq", "0"), "seq must start at 1"},
		{"seq negative", recordJSON(t, "seq", "-1"), "cannot unmarshal number"},
		{"seq beyond uint64", recordJSON(t, "seq", "18446744073709551616"), "cannot unmarshal number"},
		{"seq as string", recordJSON(t, "seq", `"7"`), "cannot unmarshal string"},
		{"no key", recordJSON(t, "key", ""), "bad idempotency key"},
		{"key too long", recordJSON(t, "key", `"`+strings.Repeat("k", MaxKey+1)+`"`), "bad idempotency key"},
		{"type with space", recordJSON(t, "type", `"payment auth"`), "bad type"},
		{"schema zero", recordJSON(t, "schema", "0"), "bad schema"},
		{"prev not hex", recordJSON(t, "prev", `"`+strings.Repeat("zz", 32)+`"`), "not hex"},
		{"prev short", recordJSON(t, "prev", `"abcd"`), "want 64 hex digits"},
		{"no body", recordJSON(t, "body", ""), "body is not JSON"},
		{"body null", recordJSON(t, "body", "null"), ""},
		{"huge body string", recordJSON(t, "key", `"`+strings.Repeat("x", 10<<20)+`"`), "bad idempotency key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeRecord(tt.payload)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || r != nil {
				t.Fatalf("accepted: %+v", r)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to say %q", err, tt.want)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("error of %d bytes echoes the input", len(err.Error()))
			}
		})
	}
}

func TestDecodeAckHostile(t *testing.T) {
	results := func(n int, seq uint64) string {
		var b strings.Builder
		b.WriteString("[")
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"seq":%d,"key":"k","status":"applied"}`, seq)
		}
		b.WriteString("]")
		return b.String()
	}
	ack := func(extra string) []byte {
		return []byte(`{"tenant":"t1","device":"d1","upto":20000,"at":1` + extra + `}`)
	}
	good, err := DecodeAck(ack(`,"results":[{"seq":3,"key":"k","status":"approved","body":{"auth":"x"}}],"rejects":[{"seq":4,"reason":"chain broken"}]`))
	if err != nil {
		t.Fatalf("good ack refused: %v", err)
	}
	if good.Upto != 20000 || len(good.Results) != 1 || good.Results[0].Status != "approved" || len(good.Rejects) != 1 {
		t.Fatalf("good ack read as %+v", good)
	}
	tests := []struct {
		name    string
		payload []byte
		want    string
	}{
		{"empty", nil, "EOF"},
		{"garbage", []byte("\xff\xfe\x00junk"), "invalid character"},
		{"truncated", ack("")[:20], "unexpected EOF"},
		{"unknown field", ack(`,"extra":true`), "unknown field"},
		{"no tenant", []byte(`{"device":"d1","upto":1}`), "bad tenant or device"},
		{"device with slash", []byte(`{"tenant":"t1","device":"d/1","upto":1}`), "bad tenant or device"},
		{"upto negative", []byte(`{"tenant":"t1","device":"d1","upto":-1}`), "cannot unmarshal number"},
		{"result beyond upto", ack(`,"results":[{"seq":20001,"key":"k","status":"applied"}]`), "beyond upto"},
		{"result seq zero", ack(`,"results":[{"seq":0,"key":"k","status":"applied"}]`), "beyond upto"},
		{"result with unknown field", ack(`,"results":[{"seq":1,"key":"k","status":"applied","x":1}]`), "unknown field"},
		{"too many results", ack(`,"results":` + results(MaxResults+1, 1)), "too many results"},
		{"too many rejects", ack(`,"rejects":` + strings.Replace(results(MaxResults+1, 1), `"key":"k","status":"applied"`, `"reason":"r"`, -1)), "too many results"},
		{"results not a list", ack(`,"results":{"seq":1}`), "cannot unmarshal object"},
		{"trailing data", append(ack(""), '1'), "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := DecodeAck(tt.payload)
			if err == nil || a != nil {
				t.Fatalf("accepted: %+v", a)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to say %q", err, tt.want)
			}
		})
	}
	if _, err := DecodeAck(ack(`,"results":` + results(MaxResults, 5))); err != nil {
		t.Fatalf("an ack with MaxResults results refused: %v", err)
	}
}

func TestTopics(t *testing.T) {
	tp := Topics{Tenant: "t1", Device: "d1"}
	if got, want := tp.Records(), "guichet/v1/t1/d1/up/rec"; got != want {
		t.Fatalf("Records() = %q, want %q", got, want)
	}
	for topic, want := range map[string][3]string{
		tp.Records(): {"t1", "d1", "up/rec"},
		tp.Status():  {"t1", "d1", "up/status"},
		"guichet/v1/shop-1/till_2.a/up/rec/extra": {"shop-1", "till_2.a", "up/rec/extra"},
		// ParseUp names the sender; the caller decides what rest may be.
		"guichet/v1/t1/d1/": {"t1", "d1", ""},
	} {
		tn, dv, rest, err := ParseUp(topic)
		if err != nil || [3]string{tn, dv, rest} != want {
			t.Errorf("ParseUp(%q) = %q %q %q, %v; want %q", topic, tn, dv, rest, err, want)
		}
	}
}

func TestParseUpHostile(t *testing.T) {
	for _, topic := range []string{
		"",
		"guichet/v1",
		"guichet/v1/",
		"guichet/v2/t1/d1/up/rec",
		"Guichet/v1/t1/d1/up/rec",
		"/guichet/v1/t1/d1/up/rec",
		"guichet/v1/t1/d1",
		"guichet/v1//d1/up/rec",
		"guichet/v1/t1//up/rec",
		"guichet/v1/+/d1/up/rec",
		"guichet/v1/t1/#",
		"guichet/v1/t 1/d1/up/rec",
		"guichet/v1/t1/d\x00/up/rec",
		"guichet/v1/" + strings.Repeat("t", MaxID+1) + "/d1/up/rec",
		"guichet/v1/t1/" + strings.Repeat("é", 40) + "/up/rec",
		"$share/guichet-platform/guichet/v1/t1/d1/up/rec",
		"guichet/v1/" + strings.Repeat("t", 1<<20) + "/d1/up/rec",
	} {
		tn, dv, rest, err := ParseUp(topic)
		if err == nil {
			t.Errorf("ParseUp(%.60q) accepted: %.60q %.60q %.60q", topic, tn, dv, rest)
			continue
		}
		if len(err.Error()) > 200 {
			t.Errorf("ParseUp(%.60q): error of %d bytes echoes the input", topic, len(err.Error()))
		}
	}
}

func TestHashText(t *testing.T) {
	h := HashOf([]byte("x"))
	b, err := h.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var back Hash
	if err := back.UnmarshalText(bytes.ToUpper(b)); err != nil || back != h {
		t.Fatalf("upper-case hex: %v, %x", err, back)
	}
	for _, s := range []string{"", "00", strings.Repeat("g", 64), strings.Repeat("0", 65)} {
		if err := back.UnmarshalText([]byte(s)); err == nil {
			t.Errorf("hash %q accepted", s)
		}
	}
}
