package mqttconn

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/guichet/guichet/config"
)

// Auth builds the TLS configuration (per-device certificate, CA) and reads
// the password of a broker section. It lives here, with the rest of how
// guichetd's link and guichet-platform open their MQTT connections, so that
// the platform does not link the appliance's daemon (and its devices) for
// it.
func Auth(b *config.Broker) (*tls.Config, string, error) {
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

// readSecret reads a one-line secret file; "" reads as no secret.
func readSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return string(b), nil
}
