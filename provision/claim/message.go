package claim

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/guichet/guichet/sync/envelope"
)

// Request is what a blank box sends on its request topic.
type Request struct {
	V int `json:"v"`
	// Code is the one-time code the technician typed or scanned.
	Code Code `json:"code"`
	// Device is the name the box asks for (its serial number, say). The
	// platform refuses a name enrolled to another key unless the code was
	// made by "device replace" for that name.
	Device string `json:"device"`
	// CSR is a PKCS#10 request (DER) signed by the device key.
	CSR []byte `json:"csr"`
	// RecordKey is the Ed25519 public key that will sign the device's
	// records.
	RecordKey []byte `json:"record_key"`
	// KeyKind says where the device key lives: "tpm" or "file".
	KeyKind string `json:"key_kind"`
}

// Response is the platform's answer to a Request. Error is set, and
// nothing else but V, when the request is refused.
type Response struct {
	V     int    `json:"v"`
	Error string `json:"error,omitempty"`
	// The binding recorded for the device.
	Tenant string `json:"tenant,omitempty"`
	Site   string `json:"site,omitempty"`
	Role   string `json:"role,omitempty"`
	Device string `json:"device,omitempty"`
	// Cert is the device certificate (DER), CN = CommonName(Tenant, Device).
	Cert []byte `json:"cert,omitempty"`
	// CA is the PEM bundle the device trusts for the brokers' certificates
	// and that issued Cert.
	CA []byte `json:"ca,omitempty"`
	// PlatformKey is the Ed25519 key that signs acks, commands and the
	// configuration.
	PlatformKey []byte `json:"platform_key,omitempty"`
	// Brokers are the mutual-TLS addresses the device uses from now on.
	Brokers []string `json:"brokers,omitempty"`
}

// Renewal is an enrolled device's request for a new certificate, sent on
// RenewTopic over its mutual-TLS session: the broker has already checked
// who it is. The CSR must carry the enrolled key: a new key comes only with
// a new box, through "device replace" and a new code.
type Renewal struct {
	V   int    `json:"v"`
	CSR []byte `json:"csr"`
}

// Issued answers a Renewal on CertTopic.
type Issued struct {
	V     int    `json:"v"`
	Error string `json:"error,omitempty"`
	Cert  []byte `json:"cert,omitempty"`
}

// DecodeRequest parses and checks a request payload. The CSR's signature
// and key are checked too; the code against the platform's list is not.
func DecodeRequest(p []byte) (*Request, error) {
	var r Request
	if err := decode(p, &r); err != nil {
		return nil, fmt.Errorf("claim: request: %w", err)
	}
	if r.V != Version {
		return nil, fmt.Errorf("claim: request: version %d, want %d", r.V, Version)
	}
	c, err := ParseCode(string(r.Code))
	if err != nil {
		return nil, fmt.Errorf("claim: request: %w", err)
	}
	r.Code = c
	if !envelope.ValidName(r.Device) {
		return nil, fmt.Errorf("claim: request: bad device name %q", clip(r.Device))
	}
	if _, err := ParseCSR(r.CSR); err != nil {
		return nil, fmt.Errorf("claim: request: %w", err)
	}
	if len(r.RecordKey) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("claim: request: record_key is %d bytes, want %d", len(r.RecordKey), ed25519.PublicKeySize)
	}
	if r.KeyKind != "tpm" && r.KeyKind != "file" {
		return nil, fmt.Errorf("claim: request: key_kind %q (tpm or file)", clip(r.KeyKind))
	}
	return &r, nil
}

// DecodeResponse parses and checks a response payload. A refusal is
// returned as an error carrying the platform's reason.
func DecodeResponse(p []byte) (*Response, error) {
	var r Response
	if err := decode(p, &r); err != nil {
		return nil, fmt.Errorf("claim: response: %w", err)
	}
	if r.V != Version {
		return nil, fmt.Errorf("claim: response: version %d, want %d", r.V, Version)
	}
	if r.Error != "" {
		return nil, &RefusedError{Reason: clipReason(r.Error)}
	}
	if !envelope.ValidName(r.Tenant) || !envelope.ValidName(r.Device) || !envelope.ValidName(r.Site) {
		return nil, errors.New("claim: response: bad tenant, site or device name")
	}
	if !ValidRole(r.Role) {
		return nil, fmt.Errorf("claim: response: role %q", clip(r.Role))
	}
	if len(r.Cert) == 0 || len(r.Cert) > MaxCert || len(r.CA) == 0 || len(r.CA) > MaxCA {
		return nil, errors.New("claim: response: certificate or CA missing or too large")
	}
	if len(r.PlatformKey) != ed25519.PublicKeySize {
		return nil, errors.New("claim: response: platform_key is not an Ed25519 public key")
	}
	if err := checkBrokers(r.Brokers); err != nil {
		return nil, fmt.Errorf("claim: response: %w", err)
	}
	return &r, nil
}

// DecodeRenewal parses and checks a renewal payload.
func DecodeRenewal(p []byte) (*Renewal, error) {
	var r Renewal
	if err := decode(p, &r); err != nil {
		return nil, fmt.Errorf("claim: renewal: %w", err)
	}
	if r.V != Version {
		return nil, fmt.Errorf("claim: renewal: version %d, want %d", r.V, Version)
	}
	if _, err := ParseCSR(r.CSR); err != nil {
		return nil, fmt.Errorf("claim: renewal: %w", err)
	}
	return &r, nil
}

// DecodeIssued parses and checks the answer to a renewal.
func DecodeIssued(p []byte) (*Issued, error) {
	var r Issued
	if err := decode(p, &r); err != nil {
		return nil, fmt.Errorf("claim: issued: %w", err)
	}
	if r.V != Version {
		return nil, fmt.Errorf("claim: issued: version %d, want %d", r.V, Version)
	}
	if r.Error != "" {
		return nil, &RefusedError{Reason: clipReason(r.Error)}
	}
	if len(r.Cert) == 0 || len(r.Cert) > MaxCert {
		return nil, errors.New("claim: issued: certificate missing or too large")
	}
	return &r, nil
}

// RefusedError is the platform's refusal, with its reason.
type RefusedError struct{ Reason string }

// Error says that the platform refused, and why.
func (e *RefusedError) Error() string { return "claim: refused by the platform: " + e.Reason }

// Encode writes a message as JSON.
func Encode(m any) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("claim: encode: %w", err)
	}
	return b, nil
}

func checkBrokers(urls []string) error {
	if len(urls) == 0 || len(urls) > MaxBrokers {
		return fmt.Errorf("%d brokers (1 to %d)", len(urls), MaxBrokers)
	}
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil || len(s) > MaxURL || (u.Scheme != "ssl" && u.Scheme != "tls" && u.Scheme != "mqtts") || u.Host == "" {
			return fmt.Errorf("broker %q is not a TLS address (ssl://host:port)", clip(s))
		}
	}
	return nil
}

func clipReason(s string) string {
	if len(s) > MaxReason {
		s = s[:MaxReason]
	}
	return string(bytes.ToValidUTF8([]byte(s), []byte("?")))
}

func decode(p []byte, v any) error {
	if len(p) > MaxMessage {
		return fmt.Errorf("%d bytes, more than %d", len(p), MaxMessage)
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON")
	}
	return nil
}
