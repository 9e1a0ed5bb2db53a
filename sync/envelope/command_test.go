package envelope

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeCommandHostile(t *testing.T) {
	good := `{"tenant":"t1","device":"d1","id":"c1","name":"sync","args":{"a":1},"version":3,"expires":5}`
	if c, err := DecodeCommand([]byte(good)); err != nil || c.Name != "sync" || c.Version != 3 || c.Expires != 5 || c.Stream() != "cmd.sync" {
		t.Fatalf("good command: %+v, %v", c, err)
	}
	for name, p := range map[string]string{
		"empty":            ``,
		"null":             `null`,
		"array":            `[]`,
		"no id":            `{"tenant":"t1","device":"d1","name":"sync","version":1,"expires":5}`,
		"name with space":  `{"tenant":"t1","device":"d1","id":"c1","name":"sy nc","version":1,"expires":5}`,
		"unknown field":    `{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":1,"expires":5,"sig":"x"}`,
		"old not_after":    `{"tenant":"t1","device":"d1","id":"c1","name":"sync","not_after":5}`,
		"long id":          `{"tenant":"t1","device":"d1","id":"` + strings.Repeat("i", MaxKey+1) + `","name":"sync","version":1,"expires":5}`,
		"no version":       `{"tenant":"t1","device":"d1","id":"c1","name":"sync","expires":5}`,
		"version zero":     `{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":0,"expires":5}`,
		"version negative": `{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":-1,"expires":5}`,
		"version float":    `{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":1.5,"expires":5}`,
		"version string":   `{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":"2","expires":5}`,
		"version too big":  `{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":9007199254740992,"expires":5}`,
		"version overflow": `{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":18446744073709551616,"expires":5}`,
		"no expiry":        `{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":1}`,
		"expiry negative":  `{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":1,"expires":-1}`,
		"two versions":     `{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":1,"expires":5} {"version":9}`,
		"bad args":         `{"tenant":"t1","device":"d1","id":"c1","name":"sync","version":1,"expires":5,"args":{]}`,
		"tenant wildcard":  `{"tenant":"+","device":"d1","id":"c1","name":"sync","version":1,"expires":5}`,
		"device path":      `{"tenant":"t1","device":"d1/down","id":"c1","name":"sync","version":1,"expires":5}`,
	} {
		if c, err := DecodeCommand([]byte(p)); err == nil {
			t.Errorf("%s: command %.60q accepted: %+v", name, p, c)
		}
	}
	// The largest exact JSON integer is a valid version.
	if _, err := DecodeCommand([]byte(`{"tenant":"t1","device":"d1","id":"c1","name":"config","version":9007199254740991,"expires":5}`)); err != nil {
		t.Errorf("MaxVersion refused: %v", err)
	}
}

func TestStreams(t *testing.T) {
	for name, want := range map[string]string{"config": "config", "sync": "cmd.sync", "offline_limits": "cmd.offline_limits", "cmd.x": "cmd.cmd.x"} {
		if got := StreamOf(name); got != want || !validStream(got) {
			t.Errorf("StreamOf(%q) = %q, want %q", name, got, want)
		}
	}
	for _, s := range []string{"", "cmd.", "cmd", "config.x", "cmd.a b", "cmd.a/b", "CONFIG"} {
		if validStream(s) {
			t.Errorf("stream %q accepted", s)
		}
	}
}

func goodApplied() Applied {
	return Applied{Tenant: "t1", Device: "d1", ID: "cmd-1", Stream: "config", Version: 4, Status: StatusApplied, Current: 4, At: 1}
}

func TestDecodeAppliedHostile(t *testing.T) {
	b, _ := json.Marshal(goodApplied())
	if a, err := DecodeApplied(b); err != nil || *a != goodApplied() {
		t.Fatalf("good report: %+v, %v", a, err)
	}
	refused := goodApplied()
	refused.Status, refused.Reason, refused.Detail, refused.Current = StatusRefused, ReasonOld, "version 4 is below the applied 7", 7
	b, _ = json.Marshal(refused)
	if a, err := DecodeApplied(b); err != nil || *a != refused {
		t.Fatalf("refusal: %+v, %v", a, err)
	}
	for name, edit := range map[string]func(a *Applied){
		"no tenant":               func(a *Applied) { a.Tenant = "" },
		"device wildcard":         func(a *Applied) { a.Device = "#" },
		"no id":                   func(a *Applied) { a.ID = "" },
		"long id":                 func(a *Applied) { a.ID = strings.Repeat("x", MaxKey+1) },
		"no stream":               func(a *Applied) { a.Stream = "" },
		"bad stream":              func(a *Applied) { a.Stream = "cmd.a b" },
		"other stream":            func(a *Applied) { a.Stream = "ack" },
		"applied without version": func(a *Applied) { a.Version, a.Current = 0, 0 },
		"applied not current":     func(a *Applied) { a.Current = 3 },
		"applied with reason":     func(a *Applied) { a.Reason = ReasonOld },
		"refused without reason":  func(a *Applied) { a.Status = StatusRefused },
		"unknown reason":          func(a *Applied) { a.Status, a.Reason = StatusRefused, "bored" },
		"unknown status":          func(a *Applied) { a.Status = "maybe" },
		"version too big":         func(a *Applied) { a.Version, a.Current = MaxVersion+1, MaxVersion+1 },
		"current too big":         func(a *Applied) { a.Status, a.Reason, a.Current = StatusRefused, ReasonOld, 1<<60 },
		"long detail": func(a *Applied) {
			a.Status, a.Reason, a.Detail = StatusRefused, ReasonFailed, strings.Repeat("d", MaxDetail+1)
		},
	} {
		a := goodApplied()
		edit(&a)
		b, _ := json.Marshal(a)
		if got, err := DecodeApplied(b); err == nil {
			t.Errorf("%s: report accepted: %+v", name, got)
		}
	}
	for name, p := range map[string]string{
		"empty":         ``,
		"unknown field": `{"tenant":"t1","device":"d1","id":"c","stream":"config","version":1,"status":"applied","current":1,"at":1,"extra":1}`,
		"trailing":      `{"tenant":"t1","device":"d1","id":"c","stream":"config","version":1,"status":"applied","current":1,"at":1}{}`,
		"negative":      `{"tenant":"t1","device":"d1","id":"c","stream":"config","version":-1,"status":"applied","current":1,"at":1}`,
	} {
		if got, err := DecodeApplied([]byte(p)); err == nil {
			t.Errorf("%s: report accepted: %+v", name, got)
		}
	}
}

func TestAppliedTopic(t *testing.T) {
	tp := Topics{Tenant: "t1", Device: "d1"}
	if got, want := tp.Applied(), "guichet/v1/t1/d1/up/applied"; got != want {
		t.Fatalf("Applied() = %q, want %q", got, want)
	}
	tenant, device, rest, err := ParseUp(tp.Applied())
	if err != nil || tenant != "t1" || device != "d1" || rest != "up/applied" {
		t.Fatalf("ParseUp: %q %q %q %v", tenant, device, rest, err)
	}
}
