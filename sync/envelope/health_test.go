package envelope

import (
	"encoding/json"
	"strings"
	"testing"
)

func goodHealth() *Health {
	t := int64(48500)
	return &Health{Tenant: "t1", Device: "d1", At: 1764930000000, Uptime: 61,
		Versions: map[string]string{"guichetd": "v1.2.3", "go": "go1.26.8"},
		Queue:    HealthQueue{Depth: 2, OldestAge: 5},
		Link:     HealthLink{Connected: true, Reconnects: 1, Sent: 10, LastAck: 1764930000000},
		Devices: []HealthDevice{{Name: "devices.code_readers[0]", Driver: "serial", State: DeviceOK, Decoded: 4},
			{Name: "devices.printer", Driver: "escpos", State: DeviceDegraded, Hint: "no answer", Errors: 2}},
		DiskFree: 10, DiskTotal: 100, TempMilliC: &t}
}

func TestDecodeHealth(t *testing.T) {
	good, err := json.Marshal(goodHealth())
	if err != nil {
		t.Fatal(err)
	}
	h, err := DecodeHealth(good)
	if err != nil {
		t.Fatal(err)
	}
	if h.Device != "d1" || *h.TempMilliC != 48500 || len(h.Devices) != 2 {
		t.Fatalf("decoded %+v", h)
	}
	if d := h.Degraded(); len(d) != 1 || d[0] != "devices.printer" {
		t.Fatalf("degraded %v", d)
	}
	edit := func(f func(h *Health)) []byte {
		h := goodHealth()
		f(h)
		b, _ := json.Marshal(h)
		return b
	}
	many := make([]HealthDevice, MaxHealthDevices+1)
	for i := range many {
		many[i] = HealthDevice{Name: strings.Repeat("x", i+1), State: DeviceOK}
	}
	for name, in := range map[string][]byte{
		"empty":         nil,
		"null":          []byte("null"),
		"not an object": []byte(`[1,2]`),
		"unknown field": []byte(`{"tenant":"t1","device":"d1","at":1,"uptime":0,"queue":{},"link":{},"disk_free":0,"disk_total":0,"rm":1}`),
		"trailing":      append(append([]byte{}, good...), []byte(`{}`)...),
		"bad tenant":    edit(func(h *Health) { h.Tenant = "t/1" }),
		"no device":     edit(func(h *Health) { h.Device = "" }),
		"no time":       edit(func(h *Health) { h.At = 0 }),
		"negative up":   edit(func(h *Health) { h.Uptime = -1 }),
		"negative age":  edit(func(h *Health) { h.Queue.OldestAge = -5 }),
		"disk":          edit(func(h *Health) { h.DiskFree = 101 }),
		"state":         edit(func(h *Health) { h.Devices[0].State = "fine" }),
		"control char":  edit(func(h *Health) { h.Devices[1].Hint = "a\x1b[2Jb" }),
		"long hint":     edit(func(h *Health) { h.Devices[1].Hint = strings.Repeat("h", 300) }),
		"unnamed":       edit(func(h *Health) { h.Devices[0].Name = "" }),
		"twice":         edit(func(h *Health) { h.Devices[1].Name = h.Devices[0].Name }),
		"too many":      edit(func(h *Health) { h.Devices = many }),
		"version key":   edit(func(h *Health) { h.Versions["a b"] = "1" }),
		"version value": edit(func(h *Health) { h.Versions["x"] = "1\n2" }),
		"too large":     []byte(`{"tenant":"` + strings.Repeat("a", MaxHealth) + `"}`),
		"deep":          []byte(strings.Repeat("[", 10000)),
		"wrong type":    []byte(`{"tenant":"t1","device":"d1","at":"now"}`),
		"overflow":      []byte(`{"tenant":"t1","device":"d1","at":1,"uptime":0,"queue":{"depth":-1},"link":{},"disk_free":0,"disk_total":0}`),
	} {
		if h, err := DecodeHealth(in); err == nil {
			t.Errorf("%s: accepted %+v", name, h)
		}
	}
}

func TestDecodeStatus(t *testing.T) {
	for _, in := range []string{`{"online":true,"depth":3,"at":5}`, `{"online":false,"depth":0,"at":0}`, `{"online":false}`,
		`{"online":true,"depth":0,"at":1,"degraded":["devices.printer"],"newer":1}`} {
		if _, err := DecodeStatus([]byte(in)); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
	for _, in := range []string{``, `null x`, `{"online":"yes"}`, `{"at":-1}`, `{"degraded":[""]}`, `{"degraded":["a\u0000"]}`,
		`{"degraded":[` + strings.TrimSuffix(strings.Repeat(`"a",`, MaxHealthDevices+1), ",") + `]}`} {
		if s, err := DecodeStatus([]byte(in)); err == nil {
			t.Errorf("%s: accepted %+v", in, s)
		}
	}
}

func FuzzDecodeHealth(f *testing.F) {
	good, _ := json.Marshal(goodHealth())
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"tenant":"t1","device":"d1","at":1,"uptime":0,"queue":{},"link":{},"disk_free":0,"disk_total":0,"devices":[{"name":"x","state":"ok","errors":0}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		h, err := DecodeHealth(payload)
		if err != nil {
			return
		}
		if h.Check() != nil {
			t.Fatal("decoded report does not pass its own check")
		}
		// What was accepted encodes and decodes to an accepted report.
		b, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeHealth(b); err != nil && len(b) <= MaxHealth {
			t.Fatalf("re-encoded report refused: %v", err)
		}
	})
}

func FuzzDecodeStatus(f *testing.F) {
	f.Add([]byte(`{"online":true,"depth":3,"at":5,"degraded":["devices.printer"]}`))
	f.Add([]byte(`{"online":false}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		s, err := DecodeStatus(payload)
		if err != nil {
			return
		}
		for _, d := range s.Degraded {
			if !validText(d) || d == "" {
				t.Fatalf("accepted device name %q", d)
			}
		}
	})
}
