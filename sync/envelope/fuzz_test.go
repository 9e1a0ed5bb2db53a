package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
)

// fuzzKey is fixed so that the seeds are the same on every run.
var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func FuzzSplit(f *testing.F) {
	good := Seal(fuzzKey, []byte(`{"tenant":"t1"}`))
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Add([]byte("GQ"))
	f.Add([]byte("GQ\x02\x00\x00\x00\x00"))
	f.Add(append([]byte("GQ\x01\xff\xff\xff\xff"), make([]byte, 64)...))
	f.Add(append([]byte("GQ\x01\x00\x00\x00\x00"), make([]byte, 64)...))
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, frame []byte) {
		payload, sig, err := Split(frame)
		if err != nil {
			if payload != nil || sig != nil {
				t.Fatal("Split returned parts with an error")
			}
			return
		}
		if len(sig) != ed25519.SignatureSize || len(frame) != headerLen+len(payload)+len(sig) {
			t.Fatalf("parts of %d and %d bytes from a frame of %d", len(payload), len(sig), len(frame))
		}
		if int(binary.BigEndian.Uint32(frame[3:7])) != len(payload) {
			t.Fatal("payload length differs from the header")
		}
		// A frame accepted by Split seals back to itself when its
		// signature is good, and never verifies when it is not.
		if Verify(pub, payload, sig) == nil && !bytes.Equal(Seal(fuzzKey, payload), frame) {
			t.Fatal("verified frame does not match its own sealing")
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	good, _ := json.Marshal(goodRecord())
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","seq":1,"key":"k","type":"x","schema":1,"wall":0,"boot":0,"mono":0,"prev":"` + strings.Repeat("0", 64) + `","body":{}}`))
	f.Add([]byte(`{"tenant":"t1","extra":1}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","outbox":"` + strings.Repeat("ab", 16) + `","seq":1,"key":"k","type":"x","schema":1,"wall":0,"boot":0,"mono":0,"prev":"` + strings.Repeat("0", 64) + `","body":{}}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","outbox":"` + strings.Repeat("00", 16) + `","seq":1,"key":"k","type":"x","schema":1,"prev":"` + strings.Repeat("0", 64) + `","body":{}}`))
	f.Add([]byte(`{"body":` + strings.Repeat("[", 10000) + `}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := DecodeRecord(payload)
		if err != nil {
			if r != nil {
				t.Fatal("record returned with an error")
			}
			return
		}
		if err := r.Check(); err != nil {
			t.Fatalf("decoded record fails its own check: %v", err)
		}
		// What is accepted survives a round trip unchanged: the platform
		// stores the payload and may decode it again (held records).
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := DecodeRecord(again)
		if err != nil {
			t.Fatalf("re-encoded record refused: %v", err)
		}
		if r2.Seq != r.Seq || r2.Key != r.Key || r2.Prev != r.Prev || r2.Tenant != r.Tenant || r2.Device != r.Device || r2.Outbox != r.Outbox {
			t.Fatalf("round trip changed the record: %+v -> %+v", r, r2)
		}
	})
}

func FuzzDecodeAck(f *testing.F) {
	f.Add([]byte(`{"tenant":"t1","device":"d1","upto":3,"results":[{"seq":3,"key":"k","status":"approved","body":{"a":1}}],"rejects":[{"seq":2,"reason":"r"}],"at":1}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","upto":0,"at":1}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","upto":1,"results":[{"seq":2}]}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","upto":1,"unknown":1}`))
	f.Add([]byte(`{"tenant":"","device":"d1"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","outbox":"` + strings.Repeat("ab", 16) + `","upto":3,"rejects":[{"seq":4,"reason":"r","code":"conflict"}],"at":1}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		a, err := DecodeAck(payload)
		if err != nil {
			if a != nil {
				t.Fatal("ack returned with an error")
			}
			return
		}
		if !validName(a.Tenant, MaxID) || !validName(a.Device, MaxID) {
			t.Fatalf("ack for %q/%q accepted", a.Tenant, a.Device)
		}
		if len(a.Results) > MaxResults || len(a.Rejects) > MaxResults {
			t.Fatal("too many results accepted")
		}
		for _, r := range a.Results {
			if r.Seq == 0 || r.Seq > a.Upto {
				t.Fatalf("result for seq %d beyond upto %d accepted", r.Seq, a.Upto)
			}
		}
		for _, r := range a.Rejects {
			if r.Seq == 0 || len(r.Reason) > MaxReason {
				t.Fatalf("reject %+v accepted", r)
			}
		}
	})
}

func FuzzParseUp(f *testing.F) {
	f.Add("guichet/v1/t1/d1/up/rec")
	f.Add("guichet/v1/t1/d1/up/status")
	f.Add("guichet/v1/t1/d1")
	f.Add("guichet/v1/+/#")
	f.Add("guichet/v2/t1/d1/up/rec")
	f.Add("$share/g/guichet/v1/t1/d1/up/rec")
	f.Add("guichet/v1/t\x00/d1/up/rec")
	f.Fuzz(func(t *testing.T, topic string) {
		tenant, device, rest, err := ParseUp(topic)
		if err != nil {
			if tenant != "" || device != "" || rest != "" {
				t.Fatal("parts returned with an error")
			}
			return
		}
		if !validName(tenant, MaxID) || !validName(device, MaxID) {
			t.Fatalf("tenant %q device %q accepted", tenant, device)
		}
		if rebuilt := Root + "/" + tenant + "/" + device + "/" + rest; rebuilt != topic {
			t.Fatalf("parts %q %q %q do not rebuild the topic %q", tenant, device, rest, topic)
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add([]byte(`{"tenant":"t1","device":"d1","id":"c1","name":"config","args":{"a":1},"version":3,"expires":5}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":0,"expires":5}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":9007199254740992,"expires":5}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","id":"c1","name":"sync","not_after":5}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":1e3,"expires":5}`))
	f.Add([]byte(`{"version":1,"expires":1,"args":` + strings.Repeat("[", 10000) + `}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := DecodeCommand(payload)
		if err != nil {
			if c != nil {
				t.Fatal("command returned with an error")
			}
			return
		}
		if c.Version == 0 || c.Version > MaxVersion || c.Expires <= 0 {
			t.Fatalf("command without a valid version or expiry accepted: %+v", c)
		}
		if !validStream(c.Stream()) {
			t.Fatalf("command with stream %q accepted", c.Stream())
		}
		// What the platform signs is what the device reads.
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := DecodeCommand(again)
		if err != nil {
			t.Fatalf("re-encoded command refused: %v", err)
		}
		if c2.Version != c.Version || c2.Expires != c.Expires || c2.ID != c.ID || c2.Name != c.Name || c2.Tenant != c.Tenant || c2.Device != c.Device {
			t.Fatalf("round trip changed the command: %+v -> %+v", c, c2)
		}
	})
}

func FuzzDecodeApplied(f *testing.F) {
	f.Add([]byte(`{"tenant":"t1","device":"d1","id":"c1","stream":"config","version":4,"status":"applied","current":4,"at":1}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","id":"c1","stream":"cmd.sync","version":2,"status":"refused","reason":"old","detail":"x","current":7,"at":1}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","id":"c1","stream":"cmd.","version":2,"status":"refused","reason":"forged","current":0,"at":1}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","id":"c1","stream":"config","version":4,"status":"applied","current":3,"at":1}`))
	f.Add([]byte(`{"status":"refused","reason":"nope"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		a, err := DecodeApplied(payload)
		if err != nil {
			if a != nil {
				t.Fatal("report returned with an error")
			}
			return
		}
		if !validName(a.Tenant, MaxID) || !validName(a.Device, MaxID) || !validStream(a.Stream) {
			t.Fatalf("report %+v accepted", a)
		}
		switch a.Status {
		case StatusApplied:
			if a.Reason != "" || a.Version == 0 || a.Current != a.Version {
				t.Fatalf("applied report %+v accepted", a)
			}
		case StatusRefused:
			if !knownReason(a.Reason) {
				t.Fatalf("refusal for %q accepted", a.Reason)
			}
		default:
			t.Fatalf("status %q accepted", a.Status)
		}
		if a.Version > MaxVersion || a.Current > MaxVersion || len(a.Detail) > MaxDetail {
			t.Fatalf("report %+v accepted", a)
		}
	})
}
