// Package claim is the enrolment protocol between a blank appliance and the
// platform, modelled on fleet provisioning by claim: a technician carries a
// one-time code from the platform to the box; the box makes its key, sends a
// certificate signing request with the code on a provisioning topic that an
// unenrolled client may use and nothing else, and the platform answers with
// the device's certificate, its binding (tenant, site, role) and the
// platform's keys. A provisioned device renews its certificate over its own
// mutual-TLS session, on its own topics.
//
// The package holds the messages, their topics, the code format and the
// checks every side applies to what it receives; it knows nothing of the
// appliance or of the platform's store.
package claim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/guichet/guichet/sync/envelope"
)

// Version is the protocol version every message carries.
const Version = 1

// Roles a device can be enrolled for.
const (
	RoleTill    = "till"
	RoleCounter = "counter"
)

// ValidRole reports whether r is a role the platform enrols.
func ValidRole(r string) bool { return r == RoleTill || r == RoleCounter }

// Provisioning topics: an unenrolled client publishes its request under its
// own client id and reads the answer beside it. The broker's ACL lets an
// unauthenticated client reach these two topics and nothing else (see
// deploy/mosquitto). The client id is random (NewClientID), so no one else
// reads the answer by chance; nothing in the answer is secret either, as the
// certificate is useless without the key that signed the request.
const (
	ProvisionRoot = envelope.Root + "/provision"
	// AllRequests is the filter the platform subscribes to.
	AllRequests = ProvisionRoot + "/+/req"
)

// RequestTopic is where the client with id cid sends its request.
func RequestTopic(cid string) string { return ProvisionRoot + "/" + cid + "/req" }

// ResponseTopic is where the platform answers the client with id cid.
func ResponseTopic(cid string) string { return ProvisionRoot + "/" + cid + "/resp" }

// ParseRequestTopic returns the client id of a request topic.
func ParseRequestTopic(topic string) (string, error) {
	s, ok := strings.CutPrefix(topic, ProvisionRoot+"/")
	if !ok {
		return "", fmt.Errorf("claim: topic %q not under %s", clip(topic), ProvisionRoot)
	}
	cid, ok := strings.CutSuffix(s, "/req")
	if !ok || !ValidClientID(cid) {
		return "", fmt.Errorf("claim: bad request topic %q", clip(topic))
	}
	return cid, nil
}

// RenewTopic is where an enrolled device sends a renewal request, under its
// own up/ subtree (the ACL already lets it write there and nowhere else).
func RenewTopic(tenant, device string) string {
	return envelope.Root + "/" + tenant + "/" + device + "/up/renew"
}

// CertTopic is where the platform answers a renewal, under the device's
// down/ subtree.
func CertTopic(tenant, device string) string {
	return envelope.Root + "/" + tenant + "/" + device + "/down/cert"
}

// AllRenewals is the filter the platform subscribes to for renewals.
const AllRenewals = envelope.Root + "/+/+/up/renew"

// CommonName is the subject CN of a device certificate: tenant/device. The
// broker takes it as the client's user name, and its ACL patterns put it in
// the topic (guichet/v1/%u/up/#), so a certificate confines its holder to
// the tenant it was enrolled in, not only to its device name. Mosquitto
// refuses user names with + or #, never produced here (names are checked).
func CommonName(tenant, device string) string { return tenant + "/" + device }

// ParseCommonName splits a device certificate's CN.
func ParseCommonName(cn string) (tenant, device string, err error) {
	tenant, device, ok := strings.Cut(cn, "/")
	if !ok || !envelope.ValidName(tenant) || !envelope.ValidName(device) {
		return "", "", fmt.Errorf("claim: %q is not a device name (tenant/device)", clip(cn))
	}
	return tenant, device, nil
}

// Bounds on what a message may carry.
const (
	MaxMessage = 64 << 10
	MaxCSR     = 4 << 10
	MaxCert    = 8 << 10
	MaxCA      = 32 << 10
	MaxReason  = 200
	MaxBrokers = 8
	MaxURL     = 256
)

// ParseCSR reads a PKCS#10 request, checks its signature and that its key
// is ECDSA P-256, the only kind of device key. The subject is ignored: the
// platform names the certificate from the code's binding.
func ParseCSR(der []byte) (*x509.CertificateRequest, error) {
	if len(der) == 0 || len(der) > MaxCSR {
		return nil, fmt.Errorf("claim: csr: %d bytes (1 to %d)", len(der), MaxCSR)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("claim: csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("claim: csr: signature: %w", err)
	}
	k, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("claim: csr: key is not ECDSA P-256")
	}
	return csr, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
