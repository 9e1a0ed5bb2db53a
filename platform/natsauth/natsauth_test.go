package natsauth

import (
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	got, err := Render(Fleet{
		Devices:         []Device{{"shop", "B"}, {"shop", "A"}},
		Platforms:       []string{"p1"},
		ProvisionBridge: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	for _, want := range []string{
		`user: "CN=guichet-platform-p1"`,
		`publish: { allow: ["guichet.v1.*.*.down.>", "guichet.v1.provision.*.resp"] }`,
		`subscribe: { allow: ["guichet.v1.*.*.up", "guichet.v1.*.*.up.>", "guichet.v1.provision.*.req", "$MQTT.sub.>"] }`,
		`user: "CN=shop/A"`,
		`publish: { allow: ["guichet.v1.shop.A.up.>"] }`,
		`subscribe: { allow: ["guichet.v1.shop.A.down", "guichet.v1.shop.A.down.>", "$MQTT.sub.>"] }`,
		`allowed_connection_types: ["MQTT"]`,
		`user: "CN=guichet-provision-bridge"`,
		`publish: { allow: ["guichet.v1.provision.*.req"] }`,
		`subscribe: { allow: ["guichet.v1.provision.*.resp", "$MQTT.sub.>"] }`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in\n%s", want, s)
		}
	}
	// Sorted, so a regenerated file differs only where the fleet did.
	if strings.Index(s, "CN=shop/A") > strings.Index(s, "CN=shop/B") {
		t.Error("devices not sorted")
	}
	again, _ := Render(Fleet{Devices: []Device{{"shop", "A"}, {"shop", "B"}}, Platforms: []string{"p1"}, ProvisionBridge: true})
	if string(again) != s {
		t.Error("the same fleet in another order renders differently")
	}
}

func TestRenderRefuses(t *testing.T) {
	for name, f := range map[string]Fleet{
		"dot in tenant":      {Devices: []Device{{"sh.op", "A"}}},
		"dot in device":      {Devices: []Device{{"shop", "A.x"}}},
		"wildcard":           {Devices: []Device{{"shop", "*"}}},
		"full wildcard":      {Devices: []Device{{"shop", ">"}}},
		"mqtt wildcard":      {Devices: []Device{{"+", "A"}}},
		"slash":              {Devices: []Device{{"shop/x", "A"}}},
		"quote":              {Devices: []Device{{"shop", `A"]}`}}},
		"space":              {Devices: []Device{{"shop", "A B"}}},
		"empty device":       {Devices: []Device{{"shop", ""}}},
		"twice":              {Devices: []Device{{"shop", "A"}, {"shop", "A"}}},
		"bad platform":       {Platforms: []string{"p1 >"}},
		"platform twice":     {Platforms: []string{"p1", "p1"}},
		"newline":            {Devices: []Device{{"shop", "A\n}"}}},
		"too long":           {Devices: []Device{{"shop", strings.Repeat("a", 1000)}}},
		"dot only in tenant": {Devices: []Device{{".", "A"}}},
	} {
		if _, err := Render(f); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

// FuzzRender checks that whatever names get through, each user's
// permissions stay inside its own subtree and the file stays one block.
func FuzzRender(f *testing.F) {
	f.Add("shop", "A")
	f.Add("sh.op", ">")
	f.Fuzz(func(t *testing.T, tenant, device string) {
		out, err := Render(Fleet{Devices: []Device{{tenant, device}}})
		if err != nil {
			return
		}
		s := string(out)
		if strings.Count(s, "user:") != 1 || strings.Count(s, "{") != strings.Count(s, "}") {
			t.Fatalf("malformed:\n%s", s)
		}
		if !strings.Contains(s, `["guichet.v1.`+tenant+`.`+device+`.up.>"]`) {
			t.Fatalf("permissions not confined to %s/%s:\n%s", tenant, device, s)
		}
	})
}
