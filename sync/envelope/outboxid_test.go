package envelope

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestOutboxIDText(t *testing.T) {
	id, err := NewOutboxID()
	if err != nil {
		t.Fatal(err)
	}
	if id.IsZero() || len(id.String()) != 32 {
		t.Fatalf("new id %q", id)
	}
	back, err := ParseOutboxID(id.String())
	if err != nil || back != id {
		t.Fatalf("round trip: %v %v", back, err)
	}
	if z, err := ParseOutboxID(""); err != nil || !z.IsZero() {
		t.Fatalf("empty: %v %v", z, err)
	}
	for _, bad := range []string{
		"abc", strings.Repeat("0", 32), strings.Repeat("A", 32), strings.Repeat("g", 32),
		strings.Repeat("a", 33), strings.Repeat("a", 31), " " + strings.Repeat("a", 31), strings.Repeat("\x00", 32),
	} {
		if _, err := ParseOutboxID(bad); err == nil {
			t.Errorf("id %q accepted", bad)
		}
	}
}

func TestRecordOutboxField(t *testing.T) {
	// A release-1 record carries no outbox field, and reads as zero.
	r := goodRecord()
	b, _ := json.Marshal(r)
	if bytes.Contains(b, []byte(`"outbox"`)) {
		t.Fatalf("zero outbox written: %s", b)
	}
	got, err := DecodeRecord(b)
	if err != nil || !got.Outbox.IsZero() {
		t.Fatalf("release-1 record: %+v %v", got, err)
	}
	r.Outbox, _ = NewOutboxID()
	b, _ = json.Marshal(r)
	if got, err = DecodeRecord(b); err != nil || got.Outbox != r.Outbox {
		t.Fatalf("record with outbox: %+v %v", got, err)
	}
	tests := []struct{ name, v, want string }{
		{"empty string", `""`, ""},
		{"number", `7`, "cannot unmarshal number"},
		{"short", `"abcd"`, "want 32 hex digits"},
		{"upper case", `"` + strings.Repeat("AB", 16) + `"`, "not lower-case hex"},
		{"zero spelled out", `"` + strings.Repeat("00", 16) + `"`, "zero is written"},
		{"null", `null`, ""},
		{"object", `{}`, "cannot unmarshal object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeRecord(recordJSON(t, "outbox", tt.v))
			if tt.want == "" {
				if err != nil || !r.Outbox.IsZero() {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDecodeAckOutboxAndRejects(t *testing.T) {
	id := strings.Repeat("ab", 16)
	a, err := DecodeAck([]byte(`{"tenant":"t1","device":"d1","outbox":"` + id + `","upto":3,"rejects":[{"seq":4,"reason":"chain broken","code":"chain"}],"at":1}`))
	if err != nil || a.Outbox.String() != id || a.Rejects[0].Code != RejectChain {
		t.Fatalf("good ack: %+v %v", a, err)
	}
	if a, err := DecodeAck([]byte(`{"tenant":"t1","device":"d1","upto":3,"at":1}`)); err != nil || !a.Outbox.IsZero() {
		t.Fatalf("release-1 ack: %+v %v", a, err)
	}
	for name, p := range map[string]string{
		"outbox not hex":     `{"tenant":"t1","device":"d1","outbox":"zz","upto":3}`,
		"reject seq zero":    `{"tenant":"t1","device":"d1","upto":3,"rejects":[{"seq":0,"reason":"r"}]}`,
		"reject code slash":  `{"tenant":"t1","device":"d1","upto":3,"rejects":[{"seq":1,"reason":"r","code":"a/b"}]}`,
		"reject reason long": `{"tenant":"t1","device":"d1","upto":3,"rejects":[{"seq":1,"reason":"` + strings.Repeat("r", MaxReason+1) + `"}]}`,
		"reject bad utf8":    `{"tenant":"t1","device":"d1","upto":3,"rejects":[{"seq":1,"reason":"\xff"}]}`,
		"reject unknown":     `{"tenant":"t1","device":"d1","upto":3,"rejects":[{"seq":1,"reason":"r","why":1}]}`,
	} {
		if a, err := DecodeAck([]byte(p)); err == nil {
			t.Errorf("%s: accepted %+v", name, a)
		}
	}
}

func TestDecodeSkipRejected(t *testing.T) {
	id := strings.Repeat("cd", 16)
	s, err := DecodeSkipRejected([]byte(`{"outbox":"` + id + `","seq":9,"reason":"record edited on the device, ticket 42"}`))
	if err != nil || s.Seq != 9 || s.Outbox.String() != id {
		t.Fatalf("good args: %+v %v", s, err)
	}
	if s, err := DecodeSkipRejected([]byte(`{"seq":9,"reason":"r"}`)); err != nil || !s.Outbox.IsZero() {
		t.Fatalf("release-1 stream: %+v %v", s, err)
	}
	tests := []struct{ name, args, want string }{
		{"empty", ``, "EOF"},
		{"null", `null`, "seq must be"},
		{"array", `[]`, "cannot unmarshal array"},
		{"no seq", `{"reason":"r"}`, "seq must be"},
		{"seq negative", `{"seq":-1,"reason":"r"}`, "cannot unmarshal number"},
		{"seq string", `{"seq":"1","reason":"r"}`, "cannot unmarshal string"},
		{"no reason", `{"seq":1}`, "reason must be"},
		{"reason too long", `{"seq":1,"reason":"` + strings.Repeat("x", MaxReason+1) + `"}`, "reason must be"},
		{"unknown field", `{"seq":1,"reason":"r","all":true}`, "unknown field"},
		{"trailing", `{"seq":1,"reason":"r"}{}`, "trailing data"},
		{"outbox bad", `{"outbox":"x","seq":1,"reason":"r"}`, "outbox id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := DecodeSkipRejected([]byte(tt.args))
			if err == nil || s != nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %+v %v, want error saying %q", s, err, tt.want)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("error of %d bytes echoes the input", len(err.Error()))
			}
		})
	}
}

func FuzzDecodeSkipRejected(f *testing.F) {
	f.Add([]byte(`{"outbox":"` + strings.Repeat("cd", 16) + `","seq":9,"reason":"r"}`))
	f.Add([]byte(`{"seq":1,"reason":""}`))
	f.Add([]byte(`{"seq":0}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, args []byte) {
		s, err := DecodeSkipRejected(args)
		if err != nil {
			if s != nil {
				t.Fatal("args returned with an error")
			}
			return
		}
		if s.Seq == 0 || s.Reason == "" || len(s.Reason) > MaxReason {
			t.Fatalf("bad args accepted: %+v", s)
		}
		again, _ := json.Marshal(s)
		s2, err := DecodeSkipRejected(again)
		if err != nil || *s2 != *s {
			t.Fatalf("round trip: %+v -> %+v %v", s, s2, err)
		}
	})
}

func FuzzOutboxID(f *testing.F) {
	f.Add("")
	f.Add(strings.Repeat("ab", 16))
	f.Add(strings.Repeat("00", 16))
	f.Add(strings.Repeat("AB", 16))
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseOutboxID(s)
		if err != nil {
			return
		}
		// One spelling per identity.
		if id.String() != s {
			t.Fatalf("%q read as %q", s, id)
		}
	})
}
