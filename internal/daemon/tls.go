package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/guichet/guichet/config"
)

// brokerAuth builds the TLS configuration (per-device certificate, CA) and
// reads the password of a broker section.
func brokerAuth(b *config.Broker) (*tls.Config, string, error) {
	password, err := readSecret(b.PasswordFile)
	if err != nil {
		return nil, "", fmt.Errorf("broker.password_file: %w", err)
	}
	if b.CA == "" && b.Cert == "" {
		return nil, password, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if b.CA != "" {
		pem, err := os.ReadFile(b.CA)
		if err != nil {
			return nil, "", fmt.Errorf("broker.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("broker.ca: no PEM certificate in %s", b.CA)
		}
		tc.RootCAs = pool
	}
	if b.Cert != "" {
		cert, err := tls.LoadX509KeyPair(b.Cert, b.Key)
		if err != nil {
			return nil, "", fmt.Errorf("broker.cert: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, password, nil
}

// BrokerAuth is brokerAuth for the platform program.
func BrokerAuth(b *config.Broker) (*tls.Config, string, error) { return brokerAuth(b) }
