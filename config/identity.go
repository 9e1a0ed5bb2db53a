package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Identity kinds, as written in identity.kind.
const (
	IdentityAuto = "auto"
	IdentityTPM  = "tpm"
	IdentityFile = "file"
)

// DefaultTPMDevice is identity.tpm_device's default: the kernel's TPM
// resource manager, which flushes what a process left loaded when it exits.
const DefaultTPMDevice = "/dev/tpmrm0"

// Identity configures the device's identity key: the ECDSA P-256 key that
// enrolment certifies and that authenticates the device in TLS
// (provision/identity). It is made on the device and never leaves it.
type Identity struct {
	// Kind is "tpm" (the key lives in a TPM 2.0), "file" (a key file
	// readable only by the service user: the weaker kind) or "auto", the
	// default: the TPM when there is one, else the file.
	Kind string `yaml:"kind"`
	// TPMDevice is the TPM's device file (default /dev/tpmrm0).
	TPMDevice string `yaml:"tpm_device"`
	// TPMAddress, host:port, reaches a software TPM (swtpm) over TCP
	// instead of TPMDevice: for tests and the demo, never a product.
	TPMAddress string `yaml:"tpm_address"`
	// TPMKeyFile holds the TPM key's public part and its private part as
	// the TPM encrypted it: usable only by the TPM that made it (default
	// state_dir/identity.tpmkey).
	TPMKeyFile string `yaml:"tpm_key_file"`
	// KeyFile holds the key of the file kind, PKCS#8 PEM, mode 0600
	// (default state_dir/identity.pem).
	KeyFile string `yaml:"key_file"`
}

func (id *Identity) setDefaults(stateDir string) {
	if id.Kind == "" {
		id.Kind = IdentityAuto
	}
	if id.TPMDevice == "" {
		id.TPMDevice = DefaultTPMDevice
	}
	if id.TPMKeyFile == "" {
		id.TPMKeyFile = filepath.Join(stateDir, "identity.tpmkey")
	}
	if id.KeyFile == "" {
		id.KeyFile = filepath.Join(stateDir, "identity.pem")
	}
}

// reserved are the files of state_dir that another part of the daemon
// owns: an identity key written over one of them would destroy it.
var reserved = []string{"device.key", "device.key.pub", "outbox.db", "outbox.db-wal", "outbox.db-shm"}

func (id *Identity) validate(stateDir string) error {
	switch id.Kind {
	case IdentityAuto, IdentityTPM, IdentityFile:
	default:
		return fieldErr("identity.kind", "unknown kind %q (want auto, tpm or file)", id.Kind)
	}
	if err := cleanPath(id.TPMDevice); err != nil {
		return fieldErr("identity.tpm_device", "%v", err)
	}
	if !filepath.IsAbs(id.TPMDevice) {
		return fieldErr("identity.tpm_device", "must be an absolute path such as /dev/tpmrm0, not %q", id.TPMDevice)
	}
	if id.TPMAddress != "" {
		if id.Kind == IdentityFile {
			return fieldErr("identity.tpm_address", "set, but identity.kind is file")
		}
		host, _, err := splitHostPort(id.TPMAddress)
		if err != nil || host == "" || strings.ContainsAny(host, "/ \t") {
			return fieldErr("identity.tpm_address", "want host:port, not %q", id.TPMAddress)
		}
	}
	for _, f := range []struct{ name, path string }{{"identity.tpm_key_file", id.TPMKeyFile}, {"identity.key_file", id.KeyFile}} {
		if err := cleanPath(f.path); err != nil {
			return fieldErr(f.name, "%v", err)
		}
		for _, r := range reserved {
			if filepath.Clean(f.path) == filepath.Join(stateDir, r) {
				return fieldErr(f.name, "%q is the daemon's %s", f.path, r)
			}
		}
	}
	if filepath.Clean(id.TPMKeyFile) == filepath.Clean(id.KeyFile) {
		return fieldErr("identity.key_file", "must differ from identity.tpm_key_file (%q)", id.KeyFile)
	}
	return nil
}

// cleanPath refuses an empty path, or one with a character that has no
// place in a file name a technician writes.
func cleanPath(p string) error {
	switch {
	case p == "":
		return errors.New("must be set")
	case strings.ContainsAny(p, "\x00\n\r"):
		return fmt.Errorf("%q has a control character", p)
	case strings.HasSuffix(p, "/"):
		return fmt.Errorf("%q names a directory, not a file", p)
	}
	return nil
}
