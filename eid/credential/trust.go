package credential

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/guichet/guichet/internal/atomicfile"
)

// Command names of the e-ID trust material. "eid_lists" carries a signed
// key set and/or revocation list; a "config" command may carry the same
// under "eid", so that one retained configuration holds all of a device's
// settings. See docs/protocol.md.
const (
	CommandLists  = "eid_lists"
	CommandConfig = "config"
)

// Lists are the arguments of the eid_lists command (and the "eid" member
// of a config command): COSE_Sign1 messages signed by the platform's e-ID
// root, base64 in JSON.
type Lists struct {
	KeySet      []byte `json:"keyset,omitempty"`
	Revocations []byte `json:"revocations,omitempty"`
}

// Trust is a device's QR verifier with the lists the platform sends kept
// in files, so that a restart offline still verifies. Its methods are
// safe for concurrent use.
type Trust struct {
	v                           *Verifier
	keySetPath, revocationsPath string
	log                         *slog.Logger
}

// OpenTrust reads the root key (PEM) at rootPath, which must be there, and
// the lists kept at keySetPath and revocationsPath by the last sync. A
// kept list that is missing is normal before the first sync; one that no
// longer checks (a new root key) is logged and left for the next sync to
// replace. The lists' directory is created (0700) if needed.
func OpenTrust(rootPath, keySetPath, revocationsPath string, opts Options, log *slog.Logger) (*Trust, error) {
	if log == nil {
		log = slog.Default()
	}
	t := &Trust{keySetPath: keySetPath, revocationsPath: revocationsPath, log: log.With("component", "eid-trust")}
	for _, dir := range []string{filepath.Dir(keySetPath), filepath.Dir(revocationsPath)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("eid: %w", err)
		}
	}
	v, err := load(rootPath, keySetPath, revocationsPath, opts, func(err error) error {
		if !errors.Is(err, fs.ErrNotExist) {
			t.log.Warn("kept list refused", "err", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	t.v = v
	return t, nil
}

// Verify checks the text of an e-ID QR code now.
func (t *Trust) Verify(text string) Verdict {
	return NewVerdict(t.v.Verify(text, time.Now()))
}

// ApplyLists takes the arguments of an eid_lists command. Each list is
// checked against the root key before it replaces the kept one.
func (t *Trust) ApplyLists(args []byte) error {
	var l Lists
	if err := json.Unmarshal(args, &l); err != nil {
		return fmt.Errorf("eid_lists: %w", err)
	}
	return t.apply(l)
}

// ApplyConfig takes the "eid" member of a config command's arguments, if
// there is one. A config it cannot read is not its to judge: the checkout,
// which owns the rest of the config, reports it.
func (t *Trust) ApplyConfig(args []byte) error {
	var c struct {
		EID *Lists `json:"eid"`
	}
	if err := json.Unmarshal(args, &c); err != nil || c.EID == nil {
		return nil
	}
	return t.apply(*c.EID)
}

func (t *Trust) apply(l Lists) error {
	if len(l.KeySet) > 0 {
		ks, err := t.v.SetKeySet(l.KeySet)
		if err != nil {
			return fmt.Errorf("eid key set: %w", err)
		}
		if err := atomicfile.Write(t.keySetPath, l.KeySet, 0o600); err != nil {
			return err
		}
		t.log.Info("eid key set loaded", "keys", len(ks.Keys))
	}
	if len(l.Revocations) > 0 {
		seq, at, err := t.v.SetRevocations(l.Revocations)
		if err != nil {
			return fmt.Errorf("eid revocation list: %w", err)
		}
		if err := atomicfile.Write(t.revocationsPath, l.Revocations, 0o600); err != nil {
			return err
		}
		t.log.Info("eid revocation list loaded", "seq", seq, "issued", at)
	}
	return nil
}
