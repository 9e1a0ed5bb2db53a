package pa

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// maxCertFile bounds what LoadPool reads from one file; a master list of
// every CSCA in the world is well under this.
const maxCertFile = 16 << 20

// ParseCertificates decodes the certificates in b: PEM blocks of type
// CERTIFICATE, or a single DER certificate. Keys on curves crypto/x509
// lacks are parsed as ParseCertificate says.
func ParseCertificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if out != nil {
		return out, nil
	}
	c, err := ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("neither PEM nor DER certificate: %w", err)
	}
	return []*x509.Certificate{c}, nil
}

// LoadPool reads CSCA certificates from path: a PEM or DER file, or a
// folder whose *.pem, *.crt, *.cer and *.der files are read.
func LoadPool(path string) (*Pool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("pa: CSCA list: %w", err)
	}
	files := []string{path}
	if st.IsDir() {
		files = nil
		for _, pat := range []string{"*.pem", "*.crt", "*.cer", "*.der"} {
			m, _ := filepath.Glob(filepath.Join(path, pat))
			files = append(files, m...)
		}
	}
	p := &Pool{}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("pa: CSCA list: %w", err)
		}
		if st.Size() > maxCertFile {
			return nil, fmt.Errorf("pa: CSCA file %s is %d bytes, over %d", f, st.Size(), maxCertFile)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("pa: CSCA list: %w", err)
		}
		certs, err := ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("pa: CSCA file %s: %w", f, err)
		}
		p.certs = append(p.certs, certs...)
	}
	if len(p.certs) == 0 {
		return nil, fmt.Errorf("pa: no certificate in %s", path)
	}
	return p, nil
}
