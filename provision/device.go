package provision

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/guichet/guichet/config"
)

// Device is an enrolled appliance as guichetd runs it: its enrolment and
// the credentials its link shows the brokers.
type Device struct {
	Enrolment   *Enrolment
	Credentials *Credentials
	key         Key
	stateDir    string
	before      config.RenewBefore
}

// OpenDevice reads the enrolment under cfg.StateDir, checks that it was
// made for key, and fills cfg's device name, tenant and site from it. A
// name written in cfg that differs from the enrolment's is an error that
// names the field: the certificate says who the box is, and two names
// would send records under one and be refused under the other.
func OpenDevice(cfg *config.Daemon, key Key) (*Device, error) {
	e, err := LoadEnrolment(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	if err := e.apply(cfg); err != nil {
		return nil, err
	}
	creds, err := NewCredentials(e, key)
	if err != nil {
		return nil, err
	}
	return &Device{Enrolment: e, Credentials: creds, key: key, stateDir: cfg.StateDir, before: cfg.Enrolment.RenewBefore}, nil
}

func (e *Enrolment) apply(cfg *config.Daemon) error {
	d := &cfg.Device
	for _, f := range []struct {
		name     string
		cfg, enr string
	}{{"device.id", d.ID, e.Device}, {"device.tenant", d.Tenant, e.Tenant}, {"device.site", d.Site, e.Site}} {
		if f.cfg != "" && f.cfg != f.enr {
			return &config.FieldError{Field: f.name, Msg: fmt.Sprintf("%q, but the box is enrolled as %q (%s); remove it or enrol again", f.cfg, f.enr, e)}
		}
	}
	// The merchant account defaults to site-device, which was computed
	// before the name was known.
	m := &cfg.Checkout.Merchant
	if m.AccountID == d.Site+"-"+d.ID {
		m.AccountID = e.Site + "-" + e.Device
	}
	d.ID, d.Tenant, d.Site = e.Device, e.Tenant, e.Site
	return nil
}

// String says who the box is enrolled as.
func (e *Enrolment) String() string {
	return e.Tenant + "/" + e.Device + " (site " + e.Site + ", role " + e.Role + ")"
}

// Renewer returns the renewer of the device's certificate, which sends on
// publish (the link's session). Register its Deliver for its Topic on the
// link's router, and run it with the link's context.
func (d *Device) Renewer(publish func(ctx context.Context, topic string, payload []byte) error, log *slog.Logger) (*Renewer, error) {
	return NewRenewer(RenewerConfig{StateDir: d.stateDir, Enrolment: d.Enrolment, Credentials: d.Credentials, Key: d.key,
		Publish: publish, Before: d.before, Logger: log})
}
