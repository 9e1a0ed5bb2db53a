package config

import (
	"strings"
	"testing"
)

func TestIdentityDefaults(t *testing.T) {
	c, err := LoadDaemon(writeConf(t, minimal+"state_dir: /var/lib/g\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Identity{Kind: "auto", TPMDevice: "/dev/tpmrm0", TPMKeyFile: "/var/lib/g/identity.tpmkey", KeyFile: "/var/lib/g/identity.pem"}
	if c.Identity != want {
		t.Fatalf("identity defaults: %+v, want %+v", c.Identity, want)
	}
}

func TestIdentityConfig(t *testing.T) {
	c, err := LoadDaemon(writeConf(t, minimal+"identity: {kind: tpm, tpm_address: \"127.0.0.1:2321\", tpm_key_file: /k/t, key_file: /k/f}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Identity.Kind != IdentityTPM || c.Identity.TPMAddress != "127.0.0.1:2321" || c.Identity.TPMKeyFile != "/k/t" || c.Identity.KeyFile != "/k/f" {
		t.Fatalf("identity: %+v", c.Identity)
	}
}

func TestIdentityHostileValuesNameTheField(t *testing.T) {
	cases := []struct{ name, conf, want string }{
		{"unknown kind", "identity: {kind: hsm}\n", "identity.kind"},
		{"kind in capitals", "identity: {kind: TPM}\n", "identity.kind"},
		{"kind a list", "identity: {kind: [tpm]}\n", "line"},
		{"relative device", "identity: {tpm_device: tpmrm0}\n", "identity.tpm_device"},
		{"device with newline", "identity: {tpm_device: \"/dev/tpm\\nrm0\"}\n", "identity.tpm_device"},
		{"device with NUL", "identity: {tpm_device: \"/dev/tpm\\0\"}\n", "identity.tpm_device"},
		{"device a directory", "identity: {tpm_device: /dev/}\n", "identity.tpm_device"},
		{"address without port", "identity: {tpm_address: localhost}\n", "identity.tpm_address"},
		{"address bad port", "identity: {tpm_address: \"localhost:tpm\"}\n", "identity.tpm_address"},
		{"address no host", "identity: {tpm_address: \":2321\"}\n", "identity.tpm_address"},
		{"address a path", "identity: {tpm_address: \"/run/swtpm:1\"}\n", "identity.tpm_address"},
		{"address with file kind", "identity: {kind: file, tpm_address: \"127.0.0.1:2321\"}\n", "identity.tpm_address"},
		{"key file over the record key", "state_dir: /s\nidentity: {key_file: /s/device.key}\n", "identity.key_file"},
		{"tpm key file over the store", "state_dir: /s\nidentity: {tpm_key_file: /s/./outbox.db}\n", "identity.tpm_key_file"},
		{"same file twice", "identity: {key_file: /k, tpm_key_file: /k}\n", "identity.key_file"},
		{"key file a directory", "identity: {key_file: /var/lib/}\n", "identity.key_file"},
		{"key file with CR", "identity: {key_file: \"/k\\r\"}\n", "identity.key_file"},
		{"unknown field", "identity: {password: x}\n", "password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadDaemon(writeConf(t, minimal+tc.conf))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.ContainsAny(err.Error(), "\n\r\x00") {
				t.Fatalf("error %q: want one line naming %q", err, tc.want)
			}
		})
	}
}
