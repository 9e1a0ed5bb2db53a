package daemon

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/guichet/guichet/config"

	"github.com/guichet/guichet/eid/credential"
)

func readSubjectKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("eid.subject_key_file: %w", err)
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("eid.subject_key_file: %s holds %d bytes, at least 32 random bytes are needed", path, len(b))
	}
	return b, nil
}

// strictDecode decodes a YAML node refusing unknown fields, which
// yaml.Node.Decode alone does not.
func strictDecode(n *yaml.Node, v any) error {
	if n == nil || n.Kind == 0 {
		return nil
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// openTrust opens the e-ID QR verifier: the root key the configuration
// names, and the lists the platform sent, kept in the state directory.
func openTrust(cfg *config.Daemon, log *slog.Logger) (*credential.Trust, error) {
	dir := filepath.Join(cfg.StateDir, "eid")
	t, err := credential.OpenTrust(cfg.EID.RootKey, filepath.Join(dir, "keyset.cose"), filepath.Join(dir, "revocations.cose"), credential.Options{
		Require: credential.Level(cfg.EID.Require), ClockSkew: cfg.EID.ClockSkew.D(), MaxRevocationAge: cfg.EID.MaxRevocationAge.D(),
	}, log)
	if err != nil {
		return nil, fmt.Errorf("eid.root_key: %w", err)
	}
	return t, nil
}

// storeReserve is the disk the store keeps for acks on a full disk
// (outbox.KeepReserve).
const storeReserve = 16 << 20
