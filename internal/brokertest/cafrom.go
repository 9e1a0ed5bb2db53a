package brokertest

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// CAFrom makes a CA of an existing certificate and key, so that a test can
// run the site's brokers (StartMosquittoSite) on certificates of the
// platform's own CA (platform/enrol), as a real site does.
func CAFrom(t testing.TB, cert *x509.Certificate, key *ecdsa.PrivateKey) *CA {
	return &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), dir: t.TempDir()}
}
