package provision

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/guichet/guichet/config"
	"github.com/guichet/guichet/provision/provisiontest"
)

func TestOpenDevice(t *testing.T) {
	ca := provisiontest.NewCA(t, "platform CA")
	key := newKey(t)
	dir, _ := enrolled(t, ca, key, time.Hour)
	cfg := &config.Daemon{StateDir: dir}
	cfg.Checkout.Merchant.AccountID = "-" // the default, made before the name was known
	d, err := OpenDevice(cfg, key)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Device != (config.DeviceID{ID: "till-7", Tenant: "shop1", Site: "rue-haute"}) || cfg.Checkout.Merchant.AccountID != "rue-haute-till-7" {
		t.Fatalf("names not filled: %+v %q", cfg.Device, cfg.Checkout.Merchant.AccountID)
	}
	if d.Credentials.Leaf().Subject.CommonName != "shop1/till-7" {
		t.Fatal("credentials")
	}
	// The same names written in the configuration are fine.
	cfg = &config.Daemon{StateDir: dir, Device: config.DeviceID{ID: "till-7", Tenant: "shop1", Site: "rue-haute"}}
	cfg.Checkout.Merchant.AccountID = "acct-42"
	if _, err := OpenDevice(cfg, key); err != nil || cfg.Checkout.Merchant.AccountID != "acct-42" {
		t.Fatalf("agreeing configuration: %v, %q", err, cfg.Checkout.Merchant.AccountID)
	}
	for field, dev := range map[string]config.DeviceID{
		"device.id":     {ID: "till-8"},
		"device.tenant": {Tenant: "default"},
		"device.site":   {Site: "elsewhere"},
	} {
		_, err := OpenDevice(&config.Daemon{StateDir: dir, Device: dev}, key)
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Field != field || !strings.Contains(err.Error(), "enrolled as") {
			t.Errorf("%s contradicting the enrolment: %v", field, err)
		}
	}
	// Another identity key (a disk moved into another box): refused.
	if _, err := OpenDevice(&config.Daemon{StateDir: dir}, newKey(t)); err == nil || !strings.Contains(err.Error(), "another key") {
		t.Fatalf("other key: %v", err)
	}
	if _, err := OpenDevice(&config.Daemon{StateDir: t.TempDir()}, key); !errors.Is(err, ErrNotEnrolled) {
		t.Fatalf("blank box: %v", err)
	}
}
