package provision

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/guichet/guichet/provision/claim"
	"github.com/guichet/guichet/sync/envelope"
)

// Options are what Enrol needs; the zero value of each optional field is
// a sensible default.
type Options struct {
	// Broker is the provisioning broker: ssl://host:port.
	Broker string
	// CA is the trust for the provisioning broker's certificate; nil
	// trusts the system's roots.
	CA *x509.CertPool
	// AllowPlain lets Broker be tcp://, for tests only: on a real network
	// the answer's CA bundle must come over an authenticated channel.
	AllowPlain bool
	// Code is the one-time code as the technician typed it.
	Code string
	// Device is the name the box asks for.
	Device string
	// Key is the identity key; RecordKey the Ed25519 key that signs
	// records (its public half goes to the platform).
	Key       Key
	RecordKey ed25519.PublicKey
	// StateDir is where the enrolment is written (under Dir).
	StateDir string
	// Force replaces an existing enrolment.
	Force bool
	// Timeout bounds the whole exchange (default 30s).
	Timeout time.Duration
	// Resend is how often the request goes again while no answer has come
	// (default 5s). A request published while no platform is subscribed
	// (one starting, or restarting) is dropped by the broker; the platform
	// answers a repeat from the same box with the same key again, so a
	// repeat is safe.
	Resend time.Duration
	Logger *slog.Logger
}

// ErrEnrolled says the state directory already holds an enrolment.
var ErrEnrolled = errors.New("provision: this box is already enrolled")

// ErrNoAnswer says the broker took the request but nothing answered.
var ErrNoAnswer = errors.New("provision: no answer from the platform")

// Enrol sends the enrolment request and, when the platform's answer is
// good, writes the enrolment under o.StateDir and returns it. A refusal
// comes back as a *claim.RefusedError with the platform's reason.
func Enrol(ctx context.Context, o Options) (*Enrolment, error) {
	code, err := o.check()
	if err != nil {
		return nil, err
	}
	if !o.Force {
		switch _, err := LoadEnrolment(o.StateDir); {
		case err == nil:
			return nil, fmt.Errorf("%w (a replaced box is enrolled with a new code from device replace; --force enrols again)", ErrEnrolled)
		case !errors.Is(err, ErrNotEnrolled):
			return nil, fmt.Errorf("%w, but its enrolment is damaged (%v); --force enrols again", ErrEnrolled, err)
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	csr, err := newCSR(o.Key, o.Device)
	if err != nil {
		return nil, err
	}
	req, err := claim.Encode(claim.Request{V: claim.Version, Code: code, Device: o.Device, CSR: csr,
		RecordKey: o.RecordKey, KeyKind: string(o.Key.Kind())})
	if err != nil {
		return nil, err
	}
	cid, err := claim.NewClientID()
	if err != nil {
		return nil, err
	}
	answers := make(chan []byte, 1)
	opts := mqtt.NewClientOptions().AddBroker(o.Broker).SetClientID(cid).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetProtocolVersion(4).SetConnectTimeout(10 * time.Second).
		SetTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.CA})
	c := mqtt.NewClient(opts)
	if err := wait(ctx, c.Connect()); err != nil {
		return nil, fmt.Errorf("provision: connect %s: %w", o.Broker, err)
	}
	defer c.Disconnect(250)
	// Subscribed before the request goes, so the answer cannot pass by.
	onAnswer := func(_ mqtt.Client, m mqtt.Message) {
		select {
		case answers <- m.Payload():
		default:
		}
	}
	if err := wait(ctx, c.Subscribe(claim.ResponseTopic(cid), 1, onAnswer)); err != nil {
		return nil, fmt.Errorf("provision: subscribe: %w", err)
	}
	resend := o.Resend
	if resend <= 0 {
		resend = 5 * time.Second
	}
	tick := time.NewTicker(resend)
	defer tick.Stop()
	var p []byte
	for sent := 0; p == nil; {
		if err := wait(ctx, c.Publish(claim.RequestTopic(cid), 1, false, req)); err != nil {
			return nil, fmt.Errorf("provision: send the request: %w", err)
		}
		sent++
		o.Logger.Info("enrolment request sent", "broker", o.Broker, "device", o.Device, "key", o.Key.Kind(), "attempt", sent)
		select {
		case p = <-answers:
		case <-tick.C:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w in %s (%d requests): the broker took the request; is the platform running, and does it listen on %s?", ErrNoAnswer, o.Timeout, sent, claim.AllRequests)
			}
			return nil, fmt.Errorf("provision: %w", ctx.Err())
		}
	}
	resp, err := claim.DecodeResponse(p)
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	e, err := accept(resp, o)
	if err != nil {
		return nil, err
	}
	if err := e.save(o.StateDir); err != nil {
		return nil, err
	}
	o.Logger.Info("enrolled", "tenant", e.Tenant, "device", e.Device, "site", e.Site, "role", e.Role, "not_after", e.Cert.NotAfter)
	return e, nil
}

// accept checks an answer against the request: the certificate is for the
// device's key and the name asked for, and chains to the CA that came
// with it.
func accept(r *claim.Response, o Options) (*Enrolment, error) {
	if r.Device != o.Device {
		// A code made by "device replace" names the box it replaces: the
		// platform's binding decides, and the certificate must match it.
		o.Logger.Warn("the platform enrolled the box under another name", "asked", o.Device, "enrolled", r.Device)
	}
	pool, err := parseCA(r.CA)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCertificate, err)
	}
	cert, err := checkCert(r.Cert, o.Key.Public(), pool, claim.CommonName(r.Tenant, r.Device), time.Now())
	if err != nil {
		return nil, fmt.Errorf("provision: %w", err)
	}
	if err := checkBrokers(r.Brokers); err != nil {
		return nil, fmt.Errorf("provision: answer: %w", err)
	}
	return &Enrolment{Tenant: r.Tenant, Site: r.Site, Role: r.Role, Device: r.Device, Brokers: r.Brokers,
		KeyKind: o.Key.Kind(), Cert: cert, CA: r.CA, Pool: pool, PlatformKey: r.PlatformKey, At: time.Now()}, nil
}

func (o *Options) check() (claim.Code, error) {
	u, err := url.Parse(o.Broker)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("provision: broker %q is not a URL (ssl://host:port)", o.Broker)
	}
	switch u.Scheme {
	case "ssl", "tls", "mqtts":
	case "tcp", "mqtt":
		if !o.AllowPlain {
			return "", fmt.Errorf("provision: broker %q is not TLS: the answer carries whom to trust, so it must come over ssl://", o.Broker)
		}
	default:
		return "", fmt.Errorf("provision: broker %q: scheme %q (want ssl://)", o.Broker, u.Scheme)
	}
	code, err := claim.ParseCode(o.Code)
	if err != nil {
		return "", fmt.Errorf("provision: %w", err)
	}
	if !envelope.ValidName(o.Device) {
		return "", fmt.Errorf("provision: device name %q: 1 to %d letters, digits, '-', '_' or '.'", clip(o.Device), envelope.MaxID)
	}
	if o.Key == nil {
		return "", errors.New("provision: no identity key")
	}
	if len(o.RecordKey) != ed25519.PublicKeySize {
		return "", errors.New("provision: no record key")
	}
	if o.StateDir == "" {
		return "", errors.New("provision: no state directory")
	}
	return code, nil
}

// wait waits for a paho token or ctx.
func wait(ctx context.Context, tok mqtt.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}
